import { GrpoError } from '../errors.ts';

/** 'sample' = Bessel-corrected (TRL nanstd, verl torch.std, OpenRLHF); 'population' = ORZ normalize_advantages. */
export type StdKind = 'sample' | 'population';

/** The mean; of an empty list, `ifEmpty` where the caller gives what that means (a metric of nothing), else an error. */
export function mean(xs: readonly number[], ifEmpty?: number): number {
  if (xs.length === 0) {
    if (ifEmpty !== undefined) return ifEmpty;
    throw new GrpoError('shape', 'mean of an empty list');
  }
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/**
 * Standard deviation; a single sample has sample-std 0 here (torch gives NaN; callers decide what a group of one
 * means). Of an empty list, `ifEmpty` where given, else an error.
 */
export function std(xs: readonly number[], kind: StdKind = 'sample', ifEmpty?: number): number {
  const n = xs.length;
  if (n === 0) {
    if (ifEmpty !== undefined) return ifEmpty;
    throw new GrpoError('shape', 'std of an empty list');
  }
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  const denom = kind === 'sample' ? n - 1 : n;
  return denom > 0 ? Math.sqrt(ss / denom) : 0;
}

/**
 * Weighted whitening `(x − μ)/sqrt(var + eps)` with weights counting repeats (a sequence weighted by its length
 * is its tokens). Sample variance is `Σw(x−μ)²/(Σw − 1)` — verl masked_whiten / masked_var(unbiased=True).
 * `floor`: `(x − μ)·rsqrt(max(var, eps))` instead, as ORZ normalize_advantages and OpenRLHF's advantage
 * normalisation (`var.clamp(min=1e-8).rsqrt()`) compute it — the same unless the variance is about eps or less.
 */
export function whiten(
  xs: readonly number[],
  opts: { weights?: readonly number[]; eps?: number; std?: StdKind; shiftMean?: boolean; floor?: boolean } = {},
): number[] {
  const eps = opts.eps ?? 1e-8;
  const w = opts.weights ?? xs.map(() => 1);
  if (w.length !== xs.length) throw new GrpoError('shape', `whiten: ${w.length} weights for ${xs.length} values`);
  let sw = 0;
  let sx = 0;
  for (let i = 0; i < xs.length; i++) {
    sw += w[i];
    sx += w[i] * xs[i];
  }
  if (sw === 0) return xs.map(() => 0);
  const mu = sx / sw;
  let ss = 0;
  for (let i = 0; i < xs.length; i++) ss += w[i] * (xs[i] - mu) * (xs[i] - mu);
  const denom = (opts.std ?? 'sample') === 'sample' ? sw - 1 : sw;
  const variance = denom > 0 ? ss / denom : 0;
  const scale = 1 / Math.sqrt(opts.floor ? Math.max(variance, eps) : variance + eps);
  const shift = (opts.shiftMean ?? true) ? mu : 0;
  return xs.map((x) => (x - shift) * scale);
}
