import { GrpoError } from '../errors.ts';
import { checkLength, groupSlices } from './ragged.ts';
import { std, whiten, type StdKind } from './stats.ts';

export interface GdpoOptions {
  /** w_k per reward function; default all 1. */
  weights?: number[];
  /** Default 1e-4 (NVlabs/GDPO README and TRL normalize_then_sum) for both normalisations; verl uses 1e-6. */
  eps?: number;
  std?: StdKind;
  /**
   * Batch statistics of A_sum. Default 'sequence': each completion counts once (NVlabs, TRL). 'token': each
   * completion counts `lengths[i]` times and A = (A_sum − μ)/sqrt(var + eps) (verl masked_whiten) — needs `lengths`.
   */
  batchNorm?: 'sequence' | 'token';
  lengths?: readonly number[];
  /** eps of the batch normalisation; default `eps` ('sequence') or 1e-8 inside the sqrt ('token', verl masked_whiten). */
  batchEps?: number;
}

/**
 * GDPO (docs/methods/gdpo.md): normalise each reward within its group, take the weighted sum, then normalise over
 * the batch. `rewardsByFunc[k][i]` is reward function k's score of completion i.
 */
export function gdpoAdvantages(
  rewardsByFunc: number[][],
  groupSize: number | readonly number[],
  opts: GdpoOptions = {},
): number[] {
  if (rewardsByFunc.length === 0)
    throw new GrpoError('shape', 'gdpoAdvantages needs at least one reward function (rewardsByFunc[k][i])');
  const n = rewardsByFunc[0].length;
  rewardsByFunc.forEach((r, k) =>
    checkLength(`rewardsByFunc[${k}]`, r, n, 'one score per completion, same batch for every reward function'),
  );
  const weights = opts.weights ?? rewardsByFunc.map(() => 1);
  checkLength('weights', weights, rewardsByFunc.length, 'one weight per reward function');
  const eps = opts.eps ?? 1e-4;
  const stdKind = opts.std ?? 'sample';
  const slices = groupSlices(n, groupSize);
  const sum = new Array<number>(n).fill(0);
  rewardsByFunc.forEach((r, k) => {
    r.forEach((x, i) => {
      if (!Number.isFinite(x))
        throw new GrpoError('value', `rewardsByFunc[${k}][${i}] is ${x}; rewards must be finite numbers`);
    });
    for (const [s, e] of slices) {
      const g = r.slice(s, e);
      if (g.length === 1) continue; // a group of one carries no relative signal (TRL: 0)
      const m = g.reduce((a, b) => a + b, 0) / g.length;
      const sd = std(g, stdKind);
      for (let i = s; i < e; i++) sum[i] += (weights[k] * (r[i] - m)) / (sd + eps);
    }
  });
  if ((opts.batchNorm ?? 'sequence') === 'token') {
    if (!opts.lengths)
      throw new GrpoError('config', "gdpoAdvantages batchNorm 'token' needs lengths (one per completion)");
    checkLength('lengths', opts.lengths, n, 'one length per completion');
    return whiten(sum, { weights: opts.lengths, eps: opts.batchEps ?? 1e-8, std: stdKind });
  }
  const m = sum.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? std(sum, stdKind) : 0;
  const batchEps = opts.batchEps ?? eps;
  return sum.map((a) => (a - m) / (sd + batchEps));
}
