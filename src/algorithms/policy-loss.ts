import { GrpoError } from '../errors.ts';
import { aggregationWeights, type AggregationMode, type AggregationNormalizer } from './aggregation.ts';
import { broadcastToTokens, checkSameShape, lengthsOf, type LossResult, type Ragged } from './ragged.ts';

/**
 * Where the importance ratio lives (docs/methods/grpo.md, gspo.md, rloo.md):
 * - 'token': r_t = exp(lp_t − old_t) (PPO / GRPO / DAPO)
 * - 'sequence': s_i = exp(mean_t(lp − old)), one ratio for the whole completion — the length-normalised geometric
 *   mean (GSPO; TRL importance_sampling_level="sequence", OpenRLHF gspo)
 * - 'sequence-token': log s_{i,t} = sg[log s_i] + lp_t − sg[lp_t]: the value of s_i, each token's own gradient
 *   (GSPO-token; TRL experimental gspo_token; this is the form verl's "gspo" loss implements). The combined
 *   log-ratio is clamped once, from above only, as verl does: a sequence whose log s_i exceeds the clamp gets no gradient.
 * - 'sequence-sum': r_i = exp(Σ_t (lp − old)), the whole completion as one action (TRL RLOOTrainer)
 */
export type ImportanceLevel = 'token' | 'sequence' | 'sequence-token' | 'sequence-sum';

export interface PpoClipInput {
  logp: Ragged;
  oldLogp: Ragged;
  /** Per token, or one per completion (broadcast over its tokens). */
  advantages: Ragged | number[];
  /** Ratio floor 1 − epsLow. PPO/GRPO 0.2; GSPO 3e-4. */
  epsLow: number;
  /** Ratio ceiling 1 + epsHigh; epsHigh > epsLow is DAPO clip-higher (0.28). GSPO 4e-4. */
  epsHigh: number;
  level: ImportanceLevel;
  aggregation: AggregationMode;
  maxLength?: number;
  normalizer?: AggregationNormalizer;
  /** 0/1 per token; 0 removes the token from the loss, its counts and the sequence ratio. */
  mask?: Ragged;
  /** Detached per-token multipliers of the per-token loss (TIS / MIS weights, off-policy mask); counts unchanged. */
  weights?: Ragged;
  /**
   * Dual-clip (Ye et al. 2020; verl clip_ratio_c=3, OpenRLHF dual_clip): for A < 0 the loss is capped at −A·c.
   * Default off (TRL, ORZ); must be > 1.
   */
  dualClipC?: number;
  /**
   * The log-ratio is clamped to [−clamp, clamp] before exp, with zero gradient outside: default 20 (verl
   * compute_policy_loss_vanilla; verl's gspo uses ≤ 10). Infinity disables it (TRL).
   */
  logRatioClamp?: number;
  /**
   * 'both' (default): clamp to ±logRatioClamp (verl compute_policy_loss_vanilla); 'upper': only from above, as verl's
   * compute_policy_loss_gspo (`torch.clamp(log_seq_importance_ratio, max=10.0)`): a very negative log-ratio keeps
   * its value and its gradient.
   */
  logRatioClampSides?: 'both' | 'upper';
  /** Values of logp inside stop-gradients ('sequence-token' only); defaults to logp. */
  logpDetached?: Ragged;
}

interface SurrogateTerm {
  loss: number;
  /** d loss / d ratio */
  dRatio: number;
  clipped: boolean;
  dualClipped: boolean;
}

/**
 * The clipped surrogate of one token: max(−A·r, −A·clip(r, 1−εlow, 1+εhigh)), then for A < 0 with dual-clip
 * min(·, −A·c) (verl compute_policy_loss_vanilla, TRL _compute_loss).
 */
export function clippedSurrogate(
  ratio: number,
  advantage: number,
  epsLow: number,
  epsHigh: number,
  dualClipC?: number,
): SurrogateTerm {
  const lo = 1 - epsLow;
  const hi = 1 + epsHigh;
  const unclipped = -advantage * ratio;
  const clippedRatio = Math.min(Math.max(ratio, lo), hi);
  const clippedLoss = -advantage * clippedRatio;
  let loss: number;
  let dRatio: number;
  if (unclipped >= clippedLoss) {
    loss = unclipped;
    dRatio = -advantage;
  } else {
    loss = clippedLoss;
    dRatio = 0; // clip(r) is flat outside [lo, hi]; inside it equals r and the first branch is taken
  }
  let dualClipped = false;
  if (dualClipC !== undefined && advantage < 0 && loss > -advantage * dualClipC) {
    loss = -advantage * dualClipC;
    dRatio = 0;
    dualClipped = true;
  }
  return { loss, dRatio, clipped: clippedLoss > unclipped, dualClipped };
}

function clampLog(x: number, c: number, upperOnly: boolean): { value: number; passes: boolean } {
  if (x > c) return { value: c, passes: false };
  if (!upperOnly && x < -c) return { value: -c, passes: false };
  return { value: x, passes: true };
}

/** Throws one config GrpoError for the first setting of a PPO clip loss out of its range. */
function checkClipSettings(input: PpoClipInput): void {
  const { epsLow, epsHigh, level } = input;
  if (!(epsLow >= 0 && epsLow < 1) || !(epsHigh >= 0)) {
    throw new GrpoError(
      'config',
      `clip range needs 0 ≤ epsLow < 1 and epsHigh ≥ 0, got epsLow=${epsLow}, epsHigh=${epsHigh}`,
    );
  }
  if (input.dualClipC !== undefined && !(input.dualClipC > 1)) {
    throw new GrpoError('config', `dualClipC must be > 1 (verl uses 3), got ${input.dualClipC}`);
  }
  if (level !== 'token' && level !== 'sequence' && level !== 'sequence-token' && level !== 'sequence-sum') {
    throw new GrpoError(
      'config',
      `unknown importance level '${level as string}'; use token, sequence, sequence-token or sequence-sum`,
    );
  }
  const sides = input.logRatioClampSides ?? 'both';
  if (sides !== 'both' && sides !== 'upper')
    throw new GrpoError('config', `logRatioClampSides must be 'both' or 'upper', got '${sides as string}'`);
}

/** One completion's rows of the loss's inputs; a token counts when `mask` is absent or 1 there. */
interface ClipRow {
  logp: number[];
  oldLogp: number[];
  /** logp inside stop-gradients (sequence-token) */
  detached: number[];
  advantages: number[];
  /** the aggregation's coefficient of each token */
  coef: number[];
  weights?: number[];
  mask?: number[];
}

/** What every row adds to, in token order (the sums stay bit-exact with one loop over the batch). */
interface ClipTotals {
  loss: number;
  counted: number;
  clipped: number;
  dualClipped: number;
  klSum: number;
  ratioSum: number;
}

/**
 * The sequence-level log-ratio over counted tokens: their mean at logp (sequence) or at the detached logp
 * (sequence-token), or their sum (sequence-sum); `length` counts them. Zero for the token level.
 */
function sequenceLogRatio(row: ClipRow, level: ImportanceLevel): { value: number; length: number } {
  let value = 0;
  let length = 0;
  if (level === 'token') return { value, length };
  const src = level === 'sequence-token' ? row.detached : row.logp;
  for (let t = 0; t < row.logp.length; t++) {
    if (row.mask && row.mask[t] !== 1) continue;
    value += src[t] - row.oldLogp[t];
    length++;
  }
  if (level !== 'sequence-sum') value = length > 0 ? value / length : 0;
  return { value, length };
}

/** One completion's dLoss/dlogp; adds its loss and its clip, KL and ratio statistics to `totals`. */
function clipLossRow(row: ClipRow, input: PpoClipInput, totals: ClipTotals): number[] {
  const { level, epsLow, epsHigh } = input;
  const clampC = input.logRatioClamp ?? 20;
  const upperOnly = input.logRatioClampSides === 'upper';
  const len = row.logp.length;
  const grad = new Array<number>(len).fill(0);
  const seq = sequenceLogRatio(row, level);
  const wholeSequence = level === 'sequence' || level === 'sequence-sum';
  const seqClamped = clampLog(seq.value, clampC, upperOnly);
  let seqGrad = 0; // Σ_t c·w·dℓ/ds, for the whole-sequence levels
  for (let t = 0; t < len; t++) {
    if (row.mask && row.mask[t] !== 1) continue;
    let logRatio: number;
    if (level === 'token') logRatio = row.logp[t] - row.oldLogp[t];
    else if (wholeSequence) logRatio = seqClamped.value;
    else logRatio = seq.value + row.logp[t] - row.detached[t];
    const cl = wholeSequence ? seqClamped : clampLog(logRatio, clampC, upperOnly);
    const ratio = Math.exp(cl.value);
    const term = clippedSurrogate(ratio, row.advantages[t], epsLow, epsHigh, input.dualClipC);
    const w = row.weights ? row.weights[t] : 1;
    const c = row.coef[t];
    totals.counted++;
    if (term.clipped) totals.clipped++;
    if (term.dualClipped) totals.dualClipped++;
    totals.klSum += row.oldLogp[t] - row.logp[t];
    totals.ratioSum += ratio;
    if (c === 0 || w === 0) continue;
    totals.loss += c * w * term.loss;
    if (wholeSequence) seqGrad += c * w * term.dRatio;
    else if (cl.passes) grad[t] = c * w * term.dRatio * ratio; // dr/dlp = r for both token and sequence-token
  }
  if (wholeSequence && seq.length > 0 && seqClamped.passes) {
    const s = Math.exp(seqClamped.value);
    // ds/dlp_t = s/L for the mean (GSPO), s for the sum (RLOO)
    const perToken = level === 'sequence' ? (seqGrad * s) / seq.length : seqGrad * s;
    for (let t = 0; t < len; t++) if (!row.mask || row.mask[t] === 1) grad[t] = perToken;
  }
  return grad;
}

/** PPO clipped policy loss at token / sequence (GSPO) / sequence-token (GSPO-token) importance level. */
export function ppoClipLoss(input: PpoClipInput): LossResult {
  const { logp, oldLogp } = input;
  checkSameShape('oldLogp', oldLogp, 'logp', logp);
  const lengths = lengthsOf(logp);
  const adv = broadcastToTokens(input.advantages, lengths, 'advantages');
  const weights = input.weights;
  if (weights) checkSameShape('weights', weights, 'logp', logp);
  const detached = input.logpDetached ?? logp;
  checkSameShape('logpDetached', detached, 'logp', logp);
  checkClipSettings(input);
  const coef = aggregationWeights(input.aggregation, lengths, input);
  const totals: ClipTotals = { loss: 0, counted: 0, clipped: 0, dualClipped: 0, klSum: 0, ratioSum: 0 };
  const dlogp: Ragged = logp.map((row, i) =>
    clipLossRow(
      {
        logp: row,
        oldLogp: oldLogp[i],
        detached: detached[i],
        advantages: adv[i],
        coef: coef[i],
        weights: weights?.[i],
        mask: input.mask?.[i],
      },
      input,
      totals,
    ),
  );
  const frac = (x: number): number => (totals.counted > 0 ? x / totals.counted : 0);
  return {
    loss: totals.loss,
    dlogp,
    stats: {
      clip_ratio: frac(totals.clipped),
      dual_clip_ratio: frac(totals.dualClipped),
      approx_kl: frac(totals.klSum),
      ratio_mean: frac(totals.ratioSum),
    },
  };
}
