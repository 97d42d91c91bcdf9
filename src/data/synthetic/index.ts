/**
 * Embedded synthetic tasks, named in configs as `embedded:<task>` (e.g. `data.train: embedded:addition`).
 * Each one generates prompts with gold answers and R1-format reference completions from a seed, and names the
 * character vocabulary a model trained on it from scratch uses.
 */
import { GrpoError } from '../../errors.ts';
import type { CharVocabulary } from '../../model/tokenizer/char-tokenizer.ts';
import { R1_TAGS } from '../../model/tokenizer/char-tokenizer.ts';
import type { Example } from '../presets.ts';
import {
  ADDITION_CHARS,
  additionHeldOutProblems,
  additionTrainProblems,
  type AdditionOptions,
} from './column-addition.ts';
import {
  TOOL_MULTIPLICATION_CHARS,
  TOOL_MULTIPLICATION_TAGS,
  toolMultiplicationHeldOut,
  toolMultiplicationTrain,
} from './tool-multiplication.ts';

/** An example with a reference completion, ready for SFT and for accuracy rewards (`answer`). */
export interface SyntheticExample extends Example {
  answer: string;
  completion: string;
}

export interface EmbeddedTask {
  name: string;
  description: string;
  /** the character vocabulary (createCharTokenizer) of models trained on it from scratch */
  vocabulary: CharVocabulary;
  /** `n` distinct training examples from `seed` (disjoint from every held-out draw); `options` are the task's own */
  train(n: number, seed: number, options?: TaskOptions): SyntheticExample[];
  /** `n` distinct held-out examples from `seed`, with correct reference completions */
  heldOut(n: number, seed: number, options?: TaskOptions): SyntheticExample[];
  /** the option names `train`/`heldOut` accept, with a one-line doc each */
  options: Record<string, string>;
  /** completion tokens a correct reference completion needs at most (EOS included): a sensible generation limit */
  maxCompletionTokens(options?: TaskOptions): number;
}

export type TaskOptions = Record<string, unknown>;

const ADDITION_OPTIONS = {
  digits: 'operand digits: operands are uniform in [0, 10^digits) (default 3)',
  carry_slip_rate: 'probability that a training completion forgets a due carry, a sloppy teacher (default 0)',
};

function additionOptions(o: TaskOptions): AdditionOptions {
  checkTaskOptions('addition', o, Object.keys(ADDITION_OPTIONS));
  const num = (k: string) => {
    if (o[k] !== undefined && typeof o[k] !== 'number')
      throw new GrpoError(
        'config',
        `embedded task addition: option '${k}' must be a number, got ${JSON.stringify(o[k])}`,
      );
    return o[k] as number | undefined;
  };
  return { digits: num('digits'), carrySlipRate: num('carry_slip_rate') };
}

function checkTaskOptions(task: string, o: TaskOptions, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k))
      throw new GrpoError(
        'config',
        `embedded task ${task}: unknown option '${k}'; its options are ${known.join(', ')}`,
      );
  }
}

const MULTIPLICATION_OPTIONS = {
  tool_rate: 'probability that a training trace calls the calculator (default 0.3)',
};

function multiplicationOptions(o: TaskOptions): { toolRate?: number } {
  checkTaskOptions('multiplication', o, Object.keys(MULTIPLICATION_OPTIONS));
  if (o.tool_rate !== undefined && typeof o.tool_rate !== 'number')
    throw new GrpoError(
      'config',
      `embedded task multiplication: option 'tool_rate' must be a number, got ${JSON.stringify(o.tool_rate)}`,
    );
  return { toolRate: o.tool_rate as number | undefined };
}

export const embeddedTasks: Record<string, EmbeddedTask> = {
  addition: {
    name: 'addition',
    description: 'column addition with carries (3 digits by default); reasoning in <think>, result in <answer>',
    vocabulary: { chars: ADDITION_CHARS, tags: R1_TAGS },
    train: (n, seed, o = {}) => additionTrainProblems(n, seed, additionOptions(o)),
    heldOut: (n, seed, o = {}) => additionHeldOutProblems(n, seed, { ...additionOptions(o), carrySlipRate: 0 }),
    options: ADDITION_OPTIONS,
    // <think> + "9+9=18" + (d−1) × ",9+9+1=19" + </think> + <answer> + (d+1) digits + </answer> + EOS = 10d + 3
    maxCompletionTokens: (o = {}) => 10 * (additionOptions(o).digits ?? 3) + 3,
  },
  multiplication: {
    name: 'multiplication',
    description:
      '3-digit × 2-digit products, with a calculator tool (plain format) the traces call only sometimes; the multi-turn demo',
    vocabulary: { chars: TOOL_MULTIPLICATION_CHARS, tags: TOOL_MULTIPLICATION_TAGS },
    train: (n, seed, o = {}) => toolMultiplicationTrain(n, seed, multiplicationOptions(o)),
    heldOut: (n, seed, o = {}) => {
      multiplicationOptions(o);
      return toolMultiplicationHeldOut(n, seed);
    },
    options: MULTIPLICATION_OPTIONS,
    // <calculator> 6 </calculator> <tool_response> 5 </tool_response> <answer> 5 </answer> EOS = 22
    maxCompletionTokens: () => 22,
  },
};

/** Sizes of the splits `embeddedTaskSplits` returns. */
export const EMBEDDED_SPLIT_SIZES = { train: 20_000, test: 500 } as const;

/**
 * Every embedded task as `(split, seed) => examples`, the shape the RL trainer's `tasks` option takes
 * (src/data/examples.ts EmbeddedTasks): 'train' draws EMBEDDED_SPLIT_SIZES.train training problems,
 * 'test' EMBEDDED_SPLIT_SIZES.test held-out ones (never in any training draw), both with correct references.
 */
export const embeddedTaskSplits: Record<string, (split: 'train' | 'test', seed: number) => SyntheticExample[]> =
  Object.fromEntries(
    Object.values(embeddedTasks).map((t) => [
      t.name,
      (split: 'train' | 'test', seed: number) =>
        split === 'train' ? t.train(EMBEDDED_SPLIT_SIZES.train, seed) : t.heldOut(EMBEDDED_SPLIT_SIZES.test, seed),
    ]),
  );

export const EMBEDDED_PREFIX = 'embedded:';

/** True when a data path names an embedded task rather than a file. */
export function isEmbeddedData(path: string): boolean {
  return path.startsWith(EMBEDDED_PREFIX);
}

/** The task an `embedded:<task>` path names. */
export function embeddedTask(path: string): EmbeddedTask {
  const name = path.startsWith(EMBEDDED_PREFIX) ? path.slice(EMBEDDED_PREFIX.length) : path;
  const task = embeddedTasks[name];
  if (!task)
    throw new GrpoError(
      'config',
      `unknown embedded task '${name}' in '${path}'; use one of ${Object.keys(embeddedTasks)
        .map((t) => EMBEDDED_PREFIX + t)
        .join(', ')}`,
    );
  return task;
}

export {
  additionProblem,
  additionCompletion,
  columnSteps,
  answerFromSteps,
  isHeldOutPair,
  additionTrainProblems,
  additionHeldOutProblems,
  ADDITION_CHARS,
  type AdditionProblem,
  type AdditionOptions,
} from './column-addition.ts';
