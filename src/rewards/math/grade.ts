/** gradeMath: extract the response's final answer and decide whether it equals the gold answer. */
import { extractAnswer, lastBoxed, type ExtractOptions } from './extract.ts';
import { answersEquivalent, type EquivalenceOptions } from './equivalence.ts';
import type { RewardFn, Sample } from '../types.ts';
import { GrpoError } from '../../errors.ts';

export type GradeOptions = ExtractOptions & EquivalenceOptions;

/**
 * The gold may be a bare answer ("18", "\frac{1}{2}") or a full reference solution; a solution's
 * \boxed{} or "#### N" is taken as the answer (so GSM8K's `answer` field works as is).
 */
export function goldAnswer(gold: string): string {
  const boxed = lastBoxed(gold);
  if (boxed !== null) return boxed;
  const hashes = /####\s*([^\n]+)\s*$/.exec(gold);
  return hashes ? hashes[1].trim() : gold.trim();
}

/** True when the final answer in `response` is mathematically equal to `gold`. */
export function gradeMath(response: string, gold: string, opts: GradeOptions = {}): boolean {
  const predicted = extractAnswer(response, opts);
  if (predicted === null) return false;
  return answersEquivalent(predicted, goldAnswer(gold), opts);
}

export interface MathRewardOptions extends GradeOptions {
  /** Field of the sample holding the gold answer. Default 'answer'. */
  answerKey?: string;
  /** Reward for a correct answer. Default 1. */
  correct?: number;
  /** Reward otherwise. Default 0. */
  incorrect?: number;
  /**
   * ORZ rule: a truncated completion (sample.finish_reason === 'length') scores `incorrect` even if
   * its answer is right (Open-Reasoner-Zero; docs/methods/ppo.md). Default false.
   */
  requireStop?: boolean;
}

/** Reads the gold answer from a sample; numbers (AIME 25, AMC 23 store them as numbers) become strings. */
export function sampleAnswer(sample: Sample, key: string): string {
  const v = sample[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw new GrpoError('reward', `math reward: sample has no string or number field '${key}' (got ${v === undefined ? 'nothing' : typeof v}); map your dataset's answer column to '${key}' or pass answerKey`);
}

/** Rule-based math accuracy reward (DeepSeek-R1): `correct` if gradeMath passes, else `incorrect`. */
export function mathReward(opts: MathRewardOptions = {}): RewardFn {
  const key = opts.answerKey ?? 'answer';
  const correct = opts.correct ?? 1;
  const incorrect = opts.incorrect ?? 0;
  return (completion, sample) => {
    if (opts.requireStop && sample.finish_reason === 'length') return incorrect;
    return gradeMath(completion, sampleAnswer(sample, key), opts) ? correct : incorrect;
  };
}
