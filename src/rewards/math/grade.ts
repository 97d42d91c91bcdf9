/** gradeMath: extract the response's final answer and decide whether it equals the gold answer. */
import { extractAnswer, lastBoxedGroup, type ExtractOptions } from './extract.ts';
import { answersEquivalent, prepareGrading, DEFAULT_TIMEOUT_MS, type EquivalenceOptions } from './equivalence.ts';
import { Deadline } from './deadline.ts';
import type { RewardFn, Sample } from '../types.ts';
import { GrpoError } from '../../errors.ts';

export type GradeOptions = ExtractOptions & EquivalenceOptions;

/**
 * The gold may be a bare answer ("18", "\\frac{1}{2}", "x \\in [-2, 7]") or text around one: a reference
 * solution's \\boxed{} or "#### N" is taken as the answer (so GSM8K's `answer` field works as is), and a
 * gold written with math delimiters ("$1$ and $2$", "The final answer is $28\\%$") goes through the same
 * extraction as a response, as Math-Verify parses both sides alike.
 */
export function goldAnswer(gold: string): string {
  const boxed = lastBoxedGroup(gold);
  if (boxed !== null) return boxed;
  const hashes = /####\s*([^\n]+)\s*$/.exec(gold);
  if (hashes) return hashes[1].trim();
  const delimited = /(?<!\\)\$|\\[([]|\bfinal answer\b/i.test(gold);
  return (delimited ? extractAnswer(gold, { fallbackLastNumber: false }) : null) ?? gold.trim();
}

/** True when the final answer in `response` is mathematically equal to `gold`, decided within opts.timeoutMs. */
export function gradeMath(response: string, gold: string, opts: GradeOptions = {}): boolean {
  prepareGrading(opts);
  const deadline = new Deadline(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const predicted = extractAnswer(response, opts);
  if (predicted === null) return false;
  return answersEquivalent(predicted, goldAnswer(gold), opts, deadline);
}

export interface MathRewardOptions extends GradeOptions {
  /** Field of the sample holding the gold answer. Default 'answer'. */
  answerKey?: string;
  /** Reward for a correct answer. Default 1. */
  correct?: number;
  /** Reward otherwise. Default 0. */
  incorrect?: number;
}

/**
 * What naming the math reward's former `requireStop` option says. ORZ's rule that a truncated completion earns
 * nothing has one home, the require_stop batch transform (src/trainer/transforms/require-stop.ts), which zeroes
 * every reward of the completion, not only this one (docs/methods/ppo.md).
 */
export const REQUIRE_STOP_MOVED =
  'moved to the batch transform algorithm.require_stop: true, which scores a completion cut at rollout.max_tokens 0 on every reward (Open-Reasoner-Zero)';

/** Reads the gold answer from a sample; numbers (AIME 25, AMC 23 store them as numbers) become strings. */
export function sampleAnswer(sample: Sample, key: string): string {
  const v = sample[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw new GrpoError(
    'reward',
    `math reward: sample has no string or number field '${key}' (got ${v === undefined ? 'nothing' : typeof v}); map your dataset's answer column to '${key}' or pass answerKey`,
  );
}

const OPTION_CHECKS: Record<keyof MathRewardOptions, (v: unknown) => string | null> = {
  answerKey: (v) => (typeof v === 'string' && v !== '' ? null : 'a field name'),
  correct: (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a number'),
  incorrect: (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a number'),
  fallbackLastNumber: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  floatPrecision: (v) =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 15 ? null : 'an integer from 0 to 15',
  strict: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  allowSetRelationComp: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  timeoutMs: (v) => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? null : 'a positive number of milliseconds'),
  symbolic: (v) => (typeof v === 'boolean' ? null : 'true or false'),
};

/** Throws one GrpoError naming the first unknown or ill-typed option of the math reward. */
export function checkMathRewardOptions(opts: Record<string, unknown>): void {
  const known = Object.keys(OPTION_CHECKS);
  for (const [key, value] of Object.entries(opts)) {
    if (key === 'requireStop') throw new GrpoError('config', `math reward: option 'requireStop' ${REQUIRE_STOP_MOVED}`);
    const check = OPTION_CHECKS[key as keyof MathRewardOptions];
    if (!check)
      throw new GrpoError('config', `math reward: unknown option '${key}'; its options are ${known.join(', ')}`);
    const expected = value === undefined ? null : check(value);
    if (expected)
      throw new GrpoError('config', `math reward: option '${key}' must be ${expected} (got ${JSON.stringify(value)})`);
  }
}

/** Rule-based math accuracy reward (DeepSeek-R1): `correct` if gradeMath passes, else `incorrect`. */
export function mathReward(opts: MathRewardOptions = {}): RewardFn {
  checkMathRewardOptions(opts as Record<string, unknown>);
  const key = opts.answerKey ?? 'answer';
  const correct = opts.correct ?? 1;
  const incorrect = opts.incorrect ?? 0;
  return (completion, sample) => (gradeMath(completion, sampleAnswer(sample, key), opts) ? correct : incorrect);
}
