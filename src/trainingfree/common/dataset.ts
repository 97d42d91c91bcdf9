/**
 * Task examples for the training-free methods: an input and a gold answer per row. Files are read by
 * data/load.ts (JSON Lines, JSON, Parquet, optionally gzipped); fields may be dotted paths
 * ('reward_model.ground_truth').
 */
import { isAbsolute, resolve } from 'node:path';
import { GrpoError } from '../../errors.ts';
import { readExamples } from '../../data/examples.ts';
import { readRecords } from '../../data/load.ts';

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
  /** null: 'question', or 'prompt' when the first row has no 'question' */
  inputField: string | null;
  answerField: string;
  /** field holding a stable id; null = row position */
  idField?: string | null;
  /** keep only the first N rows; null = all */
  limit?: number | null;
}

/**
 * Loads a split through the data layer's loader (data/examples.ts), reading the named columns. Relative paths
 * resolve against `baseDir` (the config file's folder for the CLI).
 */
export async function loadExamples(spec: DatasetSpec, baseDir: string = process.cwd()): Promise<TaskExample[]> {
  const path = isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  const inputField = spec.inputField ?? (await defaultInputField(path));
  const examples = await readExamples({
    path,
    mapping: 'columns',
    columns: { prompt: inputField, answer: spec.answerField, id: spec.idField ?? undefined },
    limit: spec.limit ?? undefined,
    columnAdvice: "set the task's input_field / answer_field to your column names",
  });
  const seen = new Set<string>();
  return examples.map((e, i) => {
    const id = spec.idField ? e.id : `${spec.path}#${i}`;
    if (seen.has(id))
      throw new GrpoError(
        'data',
        `${path} row ${i}: duplicate id '${id}' in field '${spec.idField}'; ids must be unique`,
      );
    seen.add(id);
    return { id, input: e.prompt, answer: e.answer!, fields: e };
  });
}

/** 'question' (GSM8K, the MATH family), or 'prompt' for files of {prompt, answer} rows. */
async function defaultInputField(path: string): Promise<string> {
  const [first] = await readRecords(path, { limit: 1 });
  return first && !('question' in first) && 'prompt' in first ? 'prompt' : 'question';
}
