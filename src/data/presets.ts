/**
 * Dataset presets: the field mappings for the common public math and code datasets as published (GSM8K, MATH / MATH-500 /
 * DeepScaleR, AIME, AMC, TinyZero and d1 Countdown, HumanEval, MBPP) into one example shape.
 * `prompt` is the problem as the user would see it, without any template (templates.ts adds that).
 */
import type { DataRecord, ReadOptions } from './load.ts';
import { readRecords } from './load.ts';
import { getPath, mapRecord, type FieldMap } from './fields.ts';
import { GrpoError } from '../errors.ts';

/** A training or evaluation example. Task-specific fields are present for their task only. */
export interface Example extends DataRecord {
  id: string;
  prompt: string;
  /** Gold final answer (math). */
  answer?: string;
  /** Reference solution text, where the dataset has one. */
  solution?: string;
  /** Reference completion to train on (SFT). */
  completion?: string;
  /** Higher = harder (MATH level 1–5, DeepScaleR/AIME difficulty). */
  difficulty?: number;
  /** Countdown: the numbers to use and the target. */
  numbers?: number[];
  target?: number;
  /** Code: assert statements, setup code run first, function name, language. */
  tests?: string[];
  test_setup?: string;
  entry_point?: string;
  language?: string;
}

export type PresetName = 'gsm8k' | 'math' | 'countdown' | 'countdown_d1' | 'humaneval' | 'mbpp';

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** GSM8K answers end with "#### N"; N may carry thousands commas. */
export function gsm8kFinalAnswer(solution: string): string {
  const m = /####\s*([^\n]+)\s*$/.exec(solution);
  if (!m)
    throw new GrpoError('data', `GSM8K answer without a final '#### N' line: ${JSON.stringify(solution.slice(-80))}`);
  return m[1].trim().replace(/,/g, '');
}

/** TinyZero's user instruction for Countdown (Jiayi-Pan/TinyZero examples/data_preprocess/countdown.py). */
export function countdownQuestion(numbers: readonly number[], target: number): string {
  return (
    `Using the numbers [${numbers.join(', ')}], create an equation that equals ${target}. ` +
    'You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. ' +
    'Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.'
  );
}

function integerList(v: unknown, what: string, index: number): number[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list)) throw new GrpoError('data', `row ${index}: '${what}' is not a list of integers`);
  const out = list.map(Number);
  if (out.some((x) => !Number.isInteger(x)))
    throw new GrpoError('data', `row ${index}: '${what}' holds a non-integer: ${JSON.stringify(list)}`);
  return out;
}

/** The TinyZero prompt is a chat list whose text wraps the question between "User: " and "\nAssistant:". */
function tinyZeroQuestion(row: DataRecord, numbers: number[], target: number): string {
  const chat = row.prompt;
  const content = Array.isArray(chat)
    ? text((chat[chat.length - 1] as DataRecord | undefined)?.content)
    : typeof chat === 'string'
      ? chat
      : '';
  const m = /User:\s*([\s\S]*?)\nAssistant:/.exec(content);
  return m ? m[1].trim() : countdownQuestion(numbers, target);
}

export const PRESETS: Record<PresetName, FieldMap> = {
  gsm8k: {
    id: (_row, i) => `gsm8k-${i}`,
    prompt: 'question',
    answer: (row) => gsm8kFinalAnswer(text(row.answer)),
    solution: 'answer',
  },
  // MATH-500, MATH train (DeepScaleR), AIME 24/25/1983–2023, AMC 23: problem/question + answer.
  math: {
    id: (row, i) => text(row.unique_id ?? row.id ?? i),
    prompt: (row) => text(row.problem ?? row.question),
    answer: (row) => {
      if (row.answer === undefined || row.answer === null || row.answer === '')
        throw new GrpoError('data', 'math row with an empty answer');
      return text(row.answer); // AIME 25 stores ints, AMC 23 floats (27.0 → "27")
    },
    solution: (row) => (typeof row.solution === 'string' ? row.solution : undefined),
    difficulty: (row) =>
      typeof row.level === 'number' ? row.level : typeof row.difficulty === 'number' ? row.difficulty : undefined,
  },
  // TinyZero parquet: nums, target (also under reward_model.ground_truth), prompt as a chat list.
  countdown: {
    id: (row, i) => text(getPath(row, 'extra_info.index') ?? i),
    numbers: (row, i) => integerList(row.nums ?? getPath(row, 'reward_model.ground_truth.numbers'), 'nums', i),
    target: (row, i) => integerList([row.target ?? getPath(row, 'reward_model.ground_truth.target')], 'target', i)[0],
    prompt: (row, i) => {
      const numbers = integerList(row.nums ?? getPath(row, 'reward_model.ground_truth.numbers'), 'nums', i);
      const target = integerList([row.target ?? getPath(row, 'reward_model.ground_truth.target')], 'target', i)[0];
      return tinyZeroQuestion(row, numbers, target);
    },
  },
  // d1 (dllm-reasoning/d1) Countdown: {input: "30,100,93", output: "23"}.
  countdown_d1: {
    id: (_row, i) => `cd3-${i}`,
    numbers: (row, i) => integerList(row.input, 'input', i),
    target: (row, i) => integerList([row.output], 'output', i)[0],
    prompt: (row, i) =>
      countdownQuestion(integerList(row.input, 'input', i), integerList([row.output], 'output', i)[0]),
  },
  humaneval: {
    id: 'task_id',
    prompt: (row) =>
      `Complete the Python function \`${text(row.entry_point)}\` below. Return the whole function in a \`\`\`python code block.\n\n\`\`\`python\n${text(row.prompt)}\`\`\``,
    // HumanEval's test defines check(candidate); calling it on the entry point runs every assertion.
    tests: (row) => [`${text(row.test)}\ncheck(${text(row.entry_point)})`],
    entry_point: 'entry_point',
    solution: (row) => text(row.prompt) + text(row.canonical_solution),
    language: () => 'python',
  },
  // MBPP prompt as in the MBPP paper (Austin et al. 2021): the task plus the tests the code must pass.
  mbpp: {
    id: (row) => `mbpp-${text(row.task_id)}`,
    prompt: (row) =>
      `${text(row.text)}\nYour code should pass these tests:\n\n${(row.test_list as string[]).join('\n')}`,
    tests: 'test_list',
    test_setup: (row) => text(row.test_setup_code),
    solution: 'code',
    language: () => 'python',
  },
};

const OPTIONAL_FIELDS = ['solution', 'difficulty'];

export interface SkippedRow {
  index: number;
  reason: string;
}

export interface MappingOptions {
  /** 'skip' (default): rows that cannot be mapped (MATH train has 4 without an answer) are left out and reported; 'error': the first one throws. */
  invalidRows?: 'skip' | 'error';
  /** Told about each skipped row. Default: one console.warn with the count and the first reason. */
  onSkip?: (skipped: SkippedRow[]) => void;
}

function warnSkipped(skipped: SkippedRow[]): void {
  console.warn(
    `grpo-ts data: skipped ${skipped.length} row(s) that could not be mapped; first: row ${skipped[0].index}: ${skipped[0].reason}`,
  );
}

/** Applies a preset (or your own FieldMap) to records. */
export function toExamples(
  rows: readonly DataRecord[],
  mapping: PresetName | FieldMap,
  opts: MappingOptions = {},
): Example[] {
  const map = typeof mapping === 'string' ? PRESETS[mapping] : mapping;
  if (!map)
    throw new GrpoError(
      'data',
      `unknown dataset preset '${String(mapping)}'; use one of ${Object.keys(PRESETS).join(', ')} or pass a field map`,
    );
  const examples: Example[] = [];
  const skipped: SkippedRow[] = [];
  rows.forEach((row, index) => {
    try {
      const e = mapRecord(row, map, index, OPTIONAL_FIELDS) as Example;
      if (typeof e.prompt !== 'string' || e.prompt === '')
        throw new GrpoError('data', "empty prompt after mapping; check the field map's 'prompt'");
      e.id = text(e.id);
      examples.push(e);
    } catch (err) {
      if (!(err instanceof GrpoError) || opts.invalidRows === 'error') {
        if (err instanceof GrpoError) throw new GrpoError('data', `row ${index}: ${err.message}`);
        throw err;
      }
      skipped.push({ index, reason: err.message });
    }
  });
  if (skipped.length) (opts.onSkip ?? warnSkipped)(skipped);
  return examples;
}

export interface LoadDatasetOptions extends ReadOptions, MappingOptions {
  /** A preset name or a field map; default: guessed from the columns (see detectPreset). */
  mapping?: PresetName | FieldMap;
}
/** Guesses the preset from a record's columns; null when none fits. */
export function detectPreset(row: DataRecord): PresetName | null {
  const has = (...keys: string[]) => keys.every((k) => k in row);
  if (has('task_id', 'entry_point', 'test')) return 'humaneval';
  if (has('text', 'test_list')) return 'mbpp';
  if (has('nums', 'target')) return 'countdown';
  if (has('input', 'output') && /^\d+(,\d+)+$/.test(String(row.input))) return 'countdown_d1';
  if (has('question', 'answer') && typeof row.answer === 'string' && row.answer.includes('####')) return 'gsm8k';
  if ((has('problem') || has('question')) && has('answer')) return 'math';
  return null;
}

/** Reads a dataset file and maps it to examples. */
export async function loadDataset(path: string, opts: LoadDatasetOptions = {}): Promise<Example[]> {
  const rows = await readRecords(path, opts);
  if (rows.length === 0) return [];
  return presetExamples(rows, path, opts);
}

/** The plain shape: `prompt` and `answer` fields (and an optional `id`), the row's other fields kept as they are. */
function plainExample(row: DataRecord, index: number, path: string): Example {
  if (typeof row.prompt !== 'string' || row.prompt === '')
    throw new GrpoError('data', `${path} row ${index}: 'prompt' is not a non-empty text`);
  const answer = row.answer === undefined || row.answer === null ? undefined : text(row.answer);
  return { ...row, id: text(row.id ?? index), prompt: row.prompt, ...(answer === undefined ? {} : { answer }) };
}

/**
 * A file's rows through `opts.mapping`, the preset its columns show, or the plain `{prompt, answer}` shape
 * (`path` names the file in the error).
 */
export function presetExamples(rows: readonly DataRecord[], path: string, opts: LoadDatasetOptions = {}): Example[] {
  const plain = 'prompt' in rows[0] && 'answer' in rows[0];
  const mapping = opts.mapping ?? detectPreset(rows[0]);
  if (!mapping && plain) return rows.map((row, i) => plainExample(row, i, path));
  if (!mapping)
    throw new GrpoError(
      'data',
      `${path}: cannot tell the dataset shape from its fields (${Object.keys(rows[0]).join(', ')}); pass mapping: a preset name or a field map`,
    );
  return toExamples(rows, mapping, opts);
}
