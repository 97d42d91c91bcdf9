/** Length-shaping rewards: DAPO soft overlong punishment and the Kimi k1.5 length penalty. */
import { completionTokenCount, type GroupRewardFn, type RewardFn, type Sample } from './types.ts';
// DAPO Eq. 13 (docs/methods/dapo.md): 0 up to L_max − L_cache tokens, linear to −1 at L_max, −1 beyond.
import { softOverlongPunishment } from '../algorithms/filters.ts';
import { GrpoError } from '../errors.ts';

export interface OverlongOptions {
  /** L_max: the generation limit in tokens. */
  maxCompletionLength: number;
  /** L_cache: the soft zone before L_max. DAPO uses 4096 of 20480. */
  cacheLength: number;
  /** Token count of a completion; default reads sample.completion_ids / completion_tokens (types.ts). */
  countTokens?: (completion: string, sample: Sample) => number;
}

function defaultTokenCount(_completion: string, sample: Sample): number {
  const n = completionTokenCount(sample);
  if (n === null) {
    throw new GrpoError(
      'reward',
      'length reward: the sample has no completion_ids or completion_tokens; have the trainer pass them or give countTokens',
    );
  }
  return n;
}

/** DAPO soft overlong punishment as a reward, added to the correctness reward (TRL `get_soft_overlong_punishment`). */
export function overlongReward(opts: OverlongOptions): RewardFn {
  softOverlongPunishment(0, opts.maxCompletionLength, opts.cacheLength); // validates the options now
  const countTokens = opts.countTokens ?? defaultTokenCount;
  return (completion, sample) =>
    softOverlongPunishment(countTokens(completion, sample), opts.maxCompletionLength, opts.cacheLength);
}

/**
 * Kimi k1.5 length penalty (§2.3.3): within a group, λ = 0.5 − (len − min_len)/(max_len − min_len);
 * a correct response gets λ, a wrong one min(0, λ). All lengths equal → 0 (as open-r1 `len_reward`).
 */
export function kimiLengthPenalties(lengths: readonly number[], correct: readonly boolean[]): number[] {
  if (lengths.length !== correct.length) {
    throw new GrpoError(
      'reward',
      `Kimi length penalty: ${lengths.length} lengths but ${correct.length} correctness flags`,
    );
  }
  if (lengths.length === 0) return [];
  const minLen = Math.min(...lengths);
  const maxLen = Math.max(...lengths);
  if (maxLen === minLen) return lengths.map(() => 0);
  return lengths.map((len, i) => {
    const lambda = 0.5 - (len - minLen) / (maxLen - minLen);
    return correct[i] ? lambda : Math.min(0, lambda);
  });
}

export interface KimiLengthOptions {
  /** Whether a completion is correct: a boolean, or a reward (e.g. mathReward) compared with `correctThreshold`. */
  isCorrect: (completion: string, sample: Sample) => boolean | number | Promise<boolean | number>;
  /** A numeric isCorrect result counts as correct at or above this. Default 1. */
  correctThreshold?: number;
  /** Length of a completion; default token count from the sample (types.ts). */
  countLength?: (completion: string, sample: Sample) => number;
}

/** Group reward: the Kimi length penalty over one prompt's completions. */
export function kimiLengthReward(opts: KimiLengthOptions): GroupRewardFn {
  const countLength = opts.countLength ?? defaultTokenCount;
  return async (completions, samples) => {
    const threshold = opts.correctThreshold ?? 1;
    const correct = await Promise.all(
      completions.map(async (c, i) => {
        const v = await opts.isCorrect(c, samples[i]);
        return typeof v === 'number' ? v >= threshold : v;
      }),
    );
    return kimiLengthPenalties(
      completions.map((c, i) => countLength(c, samples[i])),
      correct,
    );
  };
}
