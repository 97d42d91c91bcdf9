/**
 * The one dataset loader, for SFT, RL, evaluation and the training-free methods: an embedded task
 * (`embedded:<task>`) or a dataset file (JSON Lines, JSON, Parquet, optionally gzipped; load.ts). A file's rows
 * become examples through named columns (dotted paths reach into nested records: 'reward_model.ground_truth'),
 * through a preset or field map, or through the preset its columns show (GSM8K, MATH, …; presets.ts).
 */
import { readRecords, type DataRecord } from './load.ts';
import { getPath, type FieldMap } from './fields.ts';
import { presetExamples, type Example, type PresetName } from './presets.ts';
import { EMBEDDED_PREFIX, embeddedTask, isEmbeddedData, type TaskOptions } from './synthetic/index.ts';
import { GrpoError } from '../errors.ts';

/** Embedded tasks by name, for `embedded:<name>` datasets: examples for a split, deterministic from a seed. */
export type EmbeddedTasks = Record<string, (split: 'train' | 'test', seed: number) => Example[]>;

/** The columns of a file's rows that hold an example's parts. */
export interface ExampleColumns {
  /** the prompt text (default 'prompt') */
  prompt?: string;
  /** the gold answer (default 'answer') */
  answer?: string;
  /** the reference completion (SFT); when set, every row needs one */
  completion?: string;
  /** a stable id (default: the row's `id`, else its position) */
  id?: string;
}

export interface ExampleSource {
  /** a dataset file or `embedded:<task>` */
  path: string;
  /** an embedded task's training draw or its held-out one (default 'train') */
  split?: 'train' | 'held_out';
  /**
   * How a file's rows become examples: 'columns' reads `columns`; a preset name or field map maps them
   * (presets.ts); 'auto' (default) reads `columns` when the first row has the prompt and answer columns, and
   * otherwise the preset the columns show.
   */
  mapping?: 'auto' | 'columns' | PresetName | FieldMap;
  columns?: ExampleColumns;
  /** whether each row read through `columns` needs an answer (default 'required') */
  answers?: 'required' | 'optional';
  /** how to name the columns, ending the error about a missing one (the config keys or flags) */
  columnAdvice?: string;
  /** at most this many rows of a file; for an embedded task, how many examples it draws */
  limit?: number;
  /** examples an embedded task draws when `limit` is not set (default 200) */
  embeddedSize?: number;
  /** seed of an embedded task's draw (default 0) */
  seed?: number;
  /** options of an embedded task */
  taskOptions?: TaskOptions;
  /** the embedded tasks `embedded:<name>` names (the RL trainer's `tasks`); default: the built-in ones */
  tasks?: EmbeddedTasks;
}

const DEFAULT_EMBEDDED_SIZE = 200;
const DEFAULT_COLUMN_ADVICE = 'name your columns with the prompt / answer / completion field keys';

/** Examples of a dataset file or an embedded task, in row order. */
export async function readExamples(src: ExampleSource): Promise<Example[]> {
  if (isEmbeddedData(src.path)) return embeddedExamples(src);
  const rows = await readRecords(src.path, { limit: src.limit });
  if (rows.length === 0)
    throw new GrpoError('data', `the dataset ${src.path} is empty (no rows); a dataset needs at least one example`);
  const mapping = src.mapping ?? 'auto';
  if (mapping === 'columns' || (mapping === 'auto' && hasPromptAndAnswer(rows[0], src.columns)))
    return rows.map((row, i) => columnExample(row, i, src));
  return presetExamples(rows, src.path, { mapping: mapping === 'auto' ? undefined : mapping });
}

function embeddedExamples(src: ExampleSource): Example[] {
  const split = src.split ?? 'train';
  if (src.tasks) {
    const name = src.path.slice(EMBEDDED_PREFIX.length);
    const draw = src.tasks[name];
    if (!draw)
      throw new GrpoError(
        'config',
        `data: unknown embedded task '${name}'; available: ${Object.keys(src.tasks).join(', ') || 'none'}`,
      );
    return draw(split === 'train' ? 'train' : 'test', src.seed ?? 0);
  }
  const task = embeddedTask(src.path);
  const n = src.limit ?? src.embeddedSize ?? DEFAULT_EMBEDDED_SIZE;
  return split === 'train'
    ? task.train(n, src.seed ?? 0, src.taskOptions)
    : task.heldOut(n, src.seed ?? 0, src.taskOptions);
}

function hasPromptAndAnswer(row: DataRecord, columns: ExampleColumns = {}): boolean {
  return (
    getPath(row, columns.prompt ?? 'prompt') !== undefined && getPath(row, columns.answer ?? 'answer') !== undefined
  );
}

/** A row read through the named columns: the row's own fields, with id, prompt, answer and completion as text. */
function columnExample(row: DataRecord, index: number, src: ExampleSource): Example {
  const c = src.columns ?? {};
  const where = `${src.path} row ${index}`;
  const advice = src.columnAdvice ?? DEFAULT_COLUMN_ADVICE;
  const read = (field: string) => columnText(row, field, where, advice);
  const answerField = c.answer ?? 'answer';
  const hasAnswer = src.answers !== 'optional' || getPath(row, answerField) !== undefined;
  return {
    ...row,
    id: c.id ? read(c.id) : String(row.id ?? index),
    prompt: read(c.prompt ?? 'prompt'),
    ...(c.completion ? { completion: read(c.completion) } : {}),
    ...(hasAnswer ? { answer: read(answerField) } : {}),
  };
}

/** A column's value as text: numbers and booleans written out, lists and objects (test cases, …) as JSON. */
function columnText(row: DataRecord, field: string, where: string, advice: string): string {
  const v = getPath(row, field);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) || (v !== null && typeof v === 'object')) return JSON.stringify(v);
  const have = Object.keys(row).slice(0, 12).join(', ');
  throw new GrpoError('data', `${where}: no field '${field}' (the row has: ${have || 'nothing'}); ${advice}`);
}
