/**
 * Where SFT and evaluation examples come from: an embedded synthetic task (`embedded:<task>`) or a dataset file
 * (.jsonl/.json/.parquet via data/load.ts), and how an example's prompt becomes text (template).
 */
import { readRecords } from '../data/load.ts';
import { getPath } from '../data/fields.ts';
import { loadDataset, type Example } from '../data/presets.ts';
import { r1ZeroTemplate } from '../data/templates.ts';
import { embeddedTask, isEmbeddedData, type TaskOptions } from '../data/synthetic/index.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { GrpoError } from '../errors.ts';

export interface ExampleSource {
  /** a dataset file or `embedded:<task>` */
  path: string;
  /** field of the prompt text (dotted paths reach into nested records) */
  promptField?: string;
  /** field of the reference completion (SFT) */
  completionField?: string;
  /** field of the gold answer (rewards, evaluation) */
  answerField?: string;
  /** at most this many rows of a file; for an embedded task, how many examples to generate */
  limit?: number;
  /** seed of an embedded task's draw */
  seed?: number;
  /** options of an embedded task */
  taskOptions?: TaskOptions;
}

const DEFAULT_EMBEDDED_SIZE = 200;

function text(row: Record<string, unknown>, field: string, index: number, path: string, what: string): string {
  const v = getPath(row, field);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new GrpoError(
    'data',
    `${path} row ${index}: no text ${what} in field '${field}' (the row has ${Object.keys(row).join(', ')}); set the ${what}_field key`,
  );
}

/** (prompt, completion) examples for supervised training; embedded tasks give their training split. */
export async function loadSftExamples(src: ExampleSource): Promise<(Example & { completion: string })[]> {
  if (isEmbeddedData(src.path))
    return embeddedTask(src.path).train(src.limit ?? 10_000, src.seed ?? 0, src.taskOptions);
  const rows = await readRecords(src.path, { limit: src.limit });
  if (rows.length === 0) throw new GrpoError('data', `${src.path} has no rows`);
  const pf = src.promptField ?? 'prompt',
    cf = src.completionField ?? 'completion',
    af = src.answerField ?? 'answer';
  return rows.map((row, i) => {
    const answer = getPath(row, af);
    return {
      ...row,
      id: String(row.id ?? i),
      prompt: text(row, pf, i, src.path, 'prompt'),
      completion: text(row, cf, i, src.path, 'completion'),
      ...(answer === undefined ? {} : { answer: String(answer) }),
    };
  });
}

/**
 * Prompts with gold answers, for rejection sampling and evaluation. `split` picks an embedded task's training or
 * held-out draw. A file with the prompt and answer fields is read as is; any other file goes through the
 * dataset presets (GSM8K, MATH, …, detected from its columns).
 */
export async function loadPromptExamples(src: ExampleSource, split: 'train' | 'held_out'): Promise<Example[]> {
  if (isEmbeddedData(src.path)) {
    const task = embeddedTask(src.path);
    const n = src.limit ?? DEFAULT_EMBEDDED_SIZE;
    return split === 'train'
      ? task.train(n, src.seed ?? 0, src.taskOptions)
      : task.heldOut(n, src.seed ?? 0, src.taskOptions);
  }
  const pf = src.promptField ?? 'prompt',
    af = src.answerField ?? 'answer';
  const rows = await readRecords(src.path, { limit: src.limit });
  if (rows.length === 0) throw new GrpoError('data', `${src.path} has no rows`);
  if (getPath(rows[0], pf) !== undefined && getPath(rows[0], af) !== undefined) {
    return rows.map((row, i) => ({
      ...row,
      id: String(row.id ?? i),
      prompt: text(row, pf, i, src.path, 'prompt'),
      answer: text(row, af, i, src.path, 'answer'),
    }));
  }
  return loadDataset(src.path, { limit: src.limit });
}

export type TemplateKind = 'raw' | 'r1_zero' | 'chat';

/** How an example's prompt becomes the text the model continues. */
export function promptTemplate(
  kind: TemplateKind,
  tokenizer: Tokenizer,
  system?: string | null,
): (e: Example) => string {
  if (kind === 'raw') return (e) => e.prompt;
  if (kind === 'r1_zero') return r1ZeroTemplate();
  if (!tokenizer.chatTemplate)
    throw new GrpoError(
      'config',
      "template 'chat' needs a tokenizer with a chat template; use template 'raw' or 'r1_zero'",
    );
  return (e) =>
    tokenizer.applyChatTemplate(
      [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: e.prompt }],
      { addGenerationPrompt: true },
    );
}
