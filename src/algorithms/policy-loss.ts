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

/** PPO clipped policy loss at token / sequence (GSPO) / sequence-token (GSPO-token) importance level. */
export function ppoClipLoss(input: PpoClipInput): LossResult {
  const { logp, oldLogp, epsLow, epsHigh, level } = input;
  checkSameShape('oldLogp', oldLogp, 'logp', logp);
  const lengths = lengthsOf(logp);
  const adv = broadcastToTokens(input.advantages, lengths, 'advantages');
  const weights = input.weights;
  if (weights) checkSameShape('weights', weights, 'logp', logp);
  const detached = input.logpDetached ?? logp;
  checkSameShape('logpDetached', detached, 'logp', logp);
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
  const clampC = input.logRatioClamp ?? 20;
  const sides = input.logRatioClampSides ?? 'both';
  if (sides !== 'both' && sides !== 'upper')
    throw new GrpoError('config', `logRatioClampSides must be 'both' or 'upper', got '${sides as string}'`);
  const upperOnly = sides === 'upper';
  const coef = aggregationWeights(input.aggregation, lengths, input);
  const mask = input.mask;
  const counted = (i: number, t: number): boolean => !mask || mask[i][t] === 1;

  let loss = 0;
  let nCounted = 0;
  let nClipped = 0;
  let nDual = 0;
  let klSum = 0;
  let ratioSum = 0;
  const dlogp: Ragged = [];
  for (let i = 0; i < logp.length; i++) {
    const len = lengths[i];
    const row = new Array<number>(len).fill(0);
    // sequence-level log-ratio over counted tokens: their mean at logp (sequence) or at the detached logp
    // (sequence-token), or their sum (sequence-sum)
    let seqLog = 0;
    let seqLen = 0;
    if (level !== 'token') {
      const src = level === 'sequence-token' ? detached[i] : logp[i];
      for (let t = 0; t < len; t++) {
        if (!counted(i, t)) continue;
        seqLog += src[t] - oldLogp[i][t];
        seqLen++;
      }
      if (level !== 'sequence-sum') seqLog = seqLen > 0 ? seqLog / seqLen : 0;
    }
    const wholeSequence = level === 'sequence' || level === 'sequence-sum';
    const seqClamped = clampLog(seqLog, clampC, upperOnly);
    let seqGrad = 0; // Σ_t c·w·dℓ/ds, for the whole-sequence levels
    for (let t = 0; t < len; t++) {
      if (!counted(i, t)) continue;
      let logRatio: number;
      if (level === 'token') logRatio = logp[i][t] - oldLogp[i][t];
      else if (wholeSequence) logRatio = seqClamped.value;
      else logRatio = seqLog + logp[i][t] - detached[i][t];
      const cl = wholeSequence ? seqClamped : clampLog(logRatio, clampC, upperOnly);
      const ratio = Math.exp(cl.value);
      const term = clippedSurrogate(ratio, adv[i][t], epsLow, epsHigh, input.dualClipC);
      const w = weights ? weights[i][t] : 1;
      const c = coef[i][t];
      nCounted++;
      if (term.clipped) nClipped++;
      if (term.dualClipped) nDual++;
      klSum += oldLogp[i][t] - logp[i][t];
      ratioSum += ratio;
      if (c === 0 || w === 0) continue;
      loss += c * w * term.loss;
      if (wholeSequence) seqGrad += c * w * term.dRatio;
      else if (cl.passes) row[t] = c * w * term.dRatio * ratio; // dr/dlp = r for both token and sequence-token
    }
    if (wholeSequence && seqLen > 0 && seqClamped.passes) {
      const s = Math.exp(seqClamped.value);
      // ds/dlp_t = s/L for the mean (GSPO), s for the sum (RLOO)
      const perToken = level === 'sequence' ? (seqGrad * s) / seqLen : seqGrad * s;
      for (let t = 0; t < len; t++) if (counted(i, t)) row[t] = perToken;
    }
    dlogp.push(row);
  }
  const frac = (x: number): number => (nCounted > 0 ? x / nCounted : 0);
  return {
    loss,
    dlogp,
    stats: {
      clip_ratio: frac(nClipped),
      dual_clip_ratio: frac(nDual),
      approx_kl: frac(klSum),
      ratio_mean: frac(ratioSum),
    },
  };
}
