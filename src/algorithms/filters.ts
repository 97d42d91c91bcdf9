import { GrpoError } from '../errors.ts';
import { checkLength, groupSlices, type Ragged } from './ragged.ts';

export interface DynamicSamplingOptions {
  /**
   * 'distinct' (default; DAPO, verl filter_groups): keep a group unless all its values are equal (std = 0).
   * 'range' (OpenRLHF dynamic_filtering): keep a group when lo < mean < hi, strictly.
   */
  rule?: 'distinct' | 'range';
  /** For 'range'; default [0, 1]. */
  range?: [number, number];
  /** For 'distinct': values closer than this count as equal; default 0 (exact). */
  tolerance?: number;
}

/**
 * DAPO dynamic sampling predicate (DAPO Eq. 11; docs/methods/dapo.md): one boolean per group, true = keep. A group
 * whose values are all equal has zero advantage everywhere and only dilutes the batch. Pass the correctness of each
 * completion (DAPO filters on accuracy, verl `filter_groups.metric: acc`), not a reward with format terms in it.
 * A group of one is kept, as verl keeps it (its std is undefined, not zero).
 */
export function dynamicSamplingKeep(
  values: number[],
  groupSize: number | readonly number[],
  opts: DynamicSamplingOptions = {},
): boolean[] {
  const rule = opts.rule ?? 'distinct';
  if (rule !== 'distinct' && rule !== 'range')
    throw new GrpoError('config', `unknown dynamic sampling rule '${rule as string}'; use distinct or range`);
  const [lo, hi] = opts.range ?? [0, 1];
  const tol = opts.tolerance ?? 0;
  return groupSlices(values.length, groupSize).map(([s, e]) => {
    const g = values.slice(s, e);
    if (rule === 'range') {
      const m = g.reduce((a, b) => a + b, 0) / g.length;
      return lo < m && m < hi;
    }
    return g.length === 1 || Math.max(...g) - Math.min(...g) > tol;
  });
}

/** Batch indices of the completions in kept groups, in batch order. */
export function keptIndices(keepGroups: readonly boolean[], groupSize: number | readonly number[]): number[] {
  const total = typeof groupSize === 'number' ? keepGroups.length * groupSize : groupSize.reduce((a, b) => a + b, 0);
  const slices = groupSlices(total, groupSize);
  checkLength('keepGroups', keepGroups, slices.length, 'one flag per group');
  const out: number[] = [];
  slices.forEach(([s, e], g) => {
    if (keepGroups[g]) for (let i = s; i < e; i++) out.push(i);
  });
  return out;
}

/**
 * Overlong filtering (DAPO; TRL mask_truncated_completions): a 0/1 per-token mask that removes truncated
 * completions from the loss and from the aggregation counts. Pass it as the loss `mask`.
 */
export function overlongFilterMask(truncated: readonly boolean[], lengths: readonly number[]): Ragged {
  checkLength('truncated', truncated, lengths.length, 'one flag per completion');
  return lengths.map((len, i) => new Array<number>(len).fill(truncated[i] ? 0 : 1));
}

/**
 * Soft overlong punishment (DAPO Eq. 13; TRL get_soft_overlong_punishment), added to the task reward:
 * 0 up to L_max − L_cache, then a linear ramp to −1 at L_max, −1 beyond. TRL's example: (90, 100, 20) → −0.5.
 * `factor` scales the penalty (verl overlong_buffer penalty_factor, default 1).
 */
export function softOverlongPunishment(
  length: number,
  maxLength: number,
  cacheLength: number,
  opts: { factor?: number } = {},
): number {
  if (!(cacheLength >= 0 && cacheLength <= maxLength)) {
    throw new GrpoError(
      'config',
      `soft overlong punishment needs 0 ≤ cacheLength ≤ maxLength, got cacheLength=${cacheLength}, maxLength=${maxLength}`,
    );
  }
  const factor = opts.factor ?? 1;
  const safe = maxLength - cacheLength;
  if (length <= safe) return 0;
  if (length > maxLength) return -factor;
  return (factor * (safe - length)) / cacheLength;
}
