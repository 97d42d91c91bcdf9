import { GrpoError } from '../errors.ts';
import { checkMask, broadcastToTokens, checkSameShape, lengthsOf, type Ragged } from './ragged.ts';

/**
 * Sampler vs trainer mismatch (docs/methods/kl-and-corrections.md, "Your efficient RL framework secretly brings you
 * off-policy RL training"): ρ_t = exp(old_t − rollout_t), old = the trainer's log-prob at θ_old, rollout = the
 * sampler's. The weights are constants multiplied into the per-token policy loss before aggregation (pass them
 * as `weights` to the policy loss).
 */
export interface RolloutCorrectionOptions {
  /**
   * 'token': one ρ per token. 'sequence': ρ = exp(Σ_t(old − rollout)), the product of token ratios, not a geometric
   * mean (verl rollout_is=sequence, TRL sequence_*). Default 'sequence' (TRL's default sequence_mask).
   */
  level?: 'token' | 'sequence';
  /** 'truncate' = TIS: clamp(ρ, min, max). 'mask' = MIS / IcePop: ρ·1[min ≤ ρ ≤ max]. Default 'mask' (TRL). */
  mode?: 'truncate' | 'mask';
  /** Upper bound C. Default 3 (TRL vllm_importance_sampling_cap); verl rollout_is_threshold uses 2. */
  max?: number;
  /** Lower bound; default none (TRL clip_min=None). OpenRLHF uses 0.5. */
  min?: number;
  /** 0/1 per token; masked tokens are left out of the sequence sum. */
  mask?: Ragged;
}

/** Importance weights that correct for the sampler/trainer mismatch, one per token (a sequence's weight is repeated). */
export function rolloutCorrectionWeights(
  oldLogp: Ragged,
  rolloutLogp: Ragged,
  opts: RolloutCorrectionOptions = {},
): Ragged {
  checkSameShape('rolloutLogp', rolloutLogp, 'oldLogp', oldLogp);
  if (opts.mask) checkSameShape('mask', opts.mask, 'oldLogp', oldLogp);
  if (opts.mask) checkMask(opts.mask);
  const level = opts.level ?? 'sequence';
  const mode = opts.mode ?? 'mask';
  const max = opts.max ?? 3;
  const min = opts.min ?? 0;
  if (!(max > 0) || !(min >= 0) || min > max) {
    throw new GrpoError(
      'config',
      `rollout correction bounds need 0 ≤ min ≤ max and max > 0, got min=${min}, max=${max}`,
    );
  }
  if (level !== 'token' && level !== 'sequence')
    throw new GrpoError('config', `unknown rollout correction level '${level as string}'`);
  if (mode !== 'truncate' && mode !== 'mask')
    throw new GrpoError('config', `unknown rollout correction mode '${mode as string}'`);
  const logMax = Math.log(max);
  const logMin = min > 0 ? Math.log(min) : -Infinity;
  // In log space, so a long sequence's product never overflows to Infinity (and Infinity·0 never makes NaN).
  const weightOf = (logRho: number): number => {
    if (mode === 'truncate') {
      if (logRho >= logMax) return max; // exactly C, not exp(log C)
      if (logRho <= logMin) return min;
      return Math.exp(logRho);
    }
    return logRho >= logMin && logRho <= logMax ? Math.exp(logRho) : 0;
  };
  const counted = (i: number, t: number): boolean => !opts.mask || opts.mask[i][t] === 1;
  return oldLogp.map((s, i) => {
    if (level === 'token') return s.map((o, t) => weightOf(o - rolloutLogp[i][t]));
    let logRho = 0;
    s.forEach((o, t) => {
      if (counted(i, t)) logRho += o - rolloutLogp[i][t];
    });
    return new Array<number>(s.length).fill(weightOf(logRho));
  });
}

/**
 * Off-policy sequence mask (DeepSeek-V3.2 OPSM; TRL off_policy_mask_threshold): drop a completion's tokens with
 * A < 0 when its mean log-ratio mean_t(sampling − logp) exceeds δ — a bad sample the current policy has already
 * moved away from. Returns 0/1 per token; use it as per-token `weights` (TRL multiplies it into the loss).
 */
export function offPolicySequenceMask(input: {
  logp: Ragged;
  /** Log-probs of the policy that sampled the completion (TRL sampling_per_token_logps, else old). */
  samplingLogp: Ragged;
  advantages: Ragged | number[];
  /** δ; TRL suggests 0.5. */
  threshold: number;
  mask?: Ragged;
}): Ragged {
  const { logp, samplingLogp, threshold } = input;
  checkSameShape('samplingLogp', samplingLogp, 'logp', logp);
  if (input.mask) checkSameShape('mask', input.mask, 'logp', logp);
  if (input.mask) checkMask(input.mask);
  const adv = broadcastToTokens(input.advantages, lengthsOf(logp), 'advantages');
  return logp.map((s, i) => {
    let sum = 0;
    let n = 0;
    s.forEach((lp, t) => {
      if (input.mask && input.mask[i][t] !== 1) return;
      sum += samplingLogp[i][t] - lp;
      n++;
    });
    const offPolicy = n > 0 && sum / n > threshold;
    return s.map((_lp, t) => (offPolicy && adv[i][t] < 0 ? 0 : 1));
  });
}
