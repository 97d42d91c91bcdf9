/**
 * Task examples for the training-free methods: an input and a gold answer per row. Files are read by
 * data/load.ts (JSON Lines, JSON, Parquet, optionally gzipped); fields may be dotted paths
 * ('reward_model.ground_truth').
 */
import { isAbsolute, resolve } from 'node:path';
import { GrpoError } from '../../errors.ts';
import { getPath } from '../../data/fields.ts';
import { readRecords, type DataRecord } from '../../data/load.ts';

export interface TaskExample {
  /** stable id: the id field when given, else "<file>#<row>" */
  id: string;
  input: string;
  answer: string;
  /** the whole row, for metrics that need more than the answer (test cases, target numbers, …) */
  fields: Record<string, unknown>;
}

export interface DatasetSpec {
  path: string;
  inputField: string;
  answerField: string;
  /** field holding a stable id; null = row position */
  idField?: string | null;
  /** keep only the first N rows; null = all */
  limit?: number | null;
}

function fieldText(row: DataRecord, field: string, where: string): string {
  const v = getPath(row, field);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) || (v !== null && typeof v === 'object')) return JSON.stringify(v);
  const have = Object.keys(row).slice(0, 12).join(', ');
  throw new GrpoError(
    'data',
    `${where}: no field '${field}' (the row has: ${have || 'nothing'}); set the task's input_field / answer_field to your column names`,
  );
}

/** Loads a split. Relative paths resolve against `baseDir` (the config file's folder for the CLI). */
export async function loadExamples(spec: DatasetSpec, baseDir: string = process.cwd()): Promise<TaskExample[]> {
  const path = isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  const rows = await readRecords(path, { limit: spec.limit ?? undefined });
  if (rows.length === 0) throw new GrpoError('data', `${path}: no examples; the split must not be empty`);
  const seen = new Set<string>();
  return rows.map((row, i) => {
    const where = `${path} row ${i + 1}`;
    const id = spec.idField ? fieldText(row, spec.idField, where) : `${spec.path}#${i}`;
    if (seen.has(id))
      throw new GrpoError('data', `${where}: duplicate id '${id}' in field '${spec.idField}'; ids must be unique`);
    seen.add(id);
    return {
      id,
      input: fieldText(row, spec.inputField, where),
      answer: fieldText(row, spec.answerField, where),
      fields: row,
    };
  });
}
