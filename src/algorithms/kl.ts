import { GrpoError } from '../errors.ts';
import { aggregateWithGradient, type AggregationMode, type AggregationNormalizer } from './aggregation.ts';
import { checkLength, checkSameShape, type LossResult, type Ragged } from './ragged.ts';

/**
 * Per-token KL estimators of KL(π‖π_ref) from the sampled token's log-probs, Δ = logp − refLogp
 * (Schulman, "Approximating KL divergence"; verl kl_penalty_forward; OpenRLHF compute_approx_kl):
 * k1 = Δ, k2 = ½Δ², k3 = e^{−Δ} + Δ − 1 (≥ 0, TRL's only choice), abs = |Δ| (verl only), and
 * 'k3+' = k3's value with k2's gradient (verl straight-through: ½Δ² − sg(½Δ²) + sg(k3)).
 */
export type KlKind = 'k1' | 'k2' | 'k3' | 'k3+' | 'abs';

interface KlEstimator {
  /** Estimate at Δ. */
  value(delta: number): number;
  /** d(estimate)/dlogp at Δ (the gradient the loss uses; for 'k3+' that of k2). */
  grad(delta: number): number;
}

const k3Value = (d: number): number => Math.exp(-d) + d - 1;

export const klEstimators: Record<KlKind, KlEstimator> = {
  k1: { value: (d) => d, grad: () => 1 },
  k2: { value: (d) => 0.5 * d * d, grad: (d) => d },
  k3: { value: k3Value, grad: (d) => 1 - Math.exp(-d) },
  'k3+': { value: k3Value, grad: (d) => d },
  abs: { value: (d) => Math.abs(d), grad: (d) => Math.sign(d) },
};

function estimator(kind: KlKind): KlEstimator {
  const e = Object.hasOwn(klEstimators, kind) ? klEstimators[kind] : undefined;
  if (!e)
    throw new GrpoError('config', `unknown KL estimator '${kind}'; use one of ${Object.keys(klEstimators).join(', ')}`);
  return e;
}

/** The KL estimate of one token. */
export function klEstimate(kind: KlKind, logp: number, refLogp: number): number {
  return estimator(kind).value(logp - refLogp);
}

/** d klEstimate / d logp of one token ('k3+' gives k2's gradient by design). */
export function klGradient(kind: KlKind, logp: number, refLogp: number): number {
  return estimator(kind).grad(logp - refLogp);
}

export interface KlLossInput {
  logp: Ragged;
  refLogp: Ragged;
  /** Default 'k3' (TRL GRPO, verl low_var_kl). */
  kind?: KlKind;
  /** Coefficient; DeepSeek-R1 used 0.001 (TRL default 0 = no KL). */
  beta: number;
  /** Same modes as the policy loss (verl adds coef·agg(kl)); default 'token-mean'. */
  aggregation?: AggregationMode;
  maxLength?: number;
  normalizer?: AggregationNormalizer;
  mask?: Ragged;
  /**
   * Clamp each estimate to [−clamp, clamp] (zero gradient outside). Default none (TRL); verl and OpenRLHF use 10.
   */
  clamp?: number;
  /** Values of logp inside stop-gradients ('k3+' only); defaults to logp. */
  logpDetached?: Ragged;
}

/** KL placed in the loss (GRPO style): β·agg(kl[i][t]) and its per-token gradient. */
export function klLoss(input: KlLossInput): LossResult {
  const { logp, refLogp, beta } = input;
  checkSameShape('refLogp', refLogp, 'logp', logp);
  const kind = input.kind ?? 'k3';
  const est = estimator(kind);
  const detached = input.logpDetached ?? logp;
  checkSameShape('logpDetached', detached, 'logp', logp);
  const clamp = input.clamp ?? Infinity;
  const values: Ragged = [];
  const grads: Ragged = [];
  let sum = 0;
  let count = 0;
  logp.forEach((s, i) => {
    const v: number[] = [];
    const g: number[] = [];
    s.forEach((lp, t) => {
      const d = lp - refLogp[i][t];
      let value = est.value(d);
      let grad = est.grad(d);
      if (kind === 'k3+') {
        // straight-through: ½Δ² − sg(½Δ²) + sg(k3), with the stop-gradient parts taken at logpDetached
        const dd = detached[i][t] - refLogp[i][t];
        value = 0.5 * d * d - 0.5 * dd * dd + Math.min(Math.max(k3Value(dd), -clamp), clamp);
      } else if (Math.abs(value) > clamp) {
        value = Math.sign(value) * clamp;
        grad = 0;
      }
      if (input.mask?.[i][t] !== 0) {
        sum += est.value(d);
        count++;
      }
      v.push(beta * value);
      g.push(beta * grad);
    });
    values.push(v);
    grads.push(g);
  });
  const { loss, dlogp } = aggregateWithGradient(input.aggregation ?? 'token-mean', values, grads, input);
  // stats.kl: mean unclamped estimate over the counted tokens of this call (TRL metric `kl`)
  return { loss, dlogp, stats: { kl: count > 0 ? sum / count : 0 } };
}

export interface KlRewardOptions {
  beta: number;
  /** Default 'k1' (OpenRLHF recommends k1 in the reward; verl kl_penalty="kl"). 'k3+' uses k3's value. */
  kind?: KlKind;
  /** Clamp each token's estimate to [−clamp, clamp] (OpenRLHF compute_approx_kl: 10). Default none. */
  clamp?: number;
}

const clamped = (x: number, c = Infinity) => Math.min(Math.max(x, -c), c);

/**
 * KL folded into token-level rewards (PPO style; verl apply_kl_penalty, OpenRLHF compute_reward):
 * r[i][t] − β·kl(logp, refLogp), with logp from the behaviour (old) policy. No gradient flows through it.
 */
export function klPenalizedTokenRewards(
  tokenRewards: Ragged,
  logp: Ragged,
  refLogp: Ragged,
  opts: KlRewardOptions,
): Ragged {
  checkSameShape('logp', logp, 'tokenRewards', tokenRewards);
  checkSameShape('refLogp', refLogp, 'tokenRewards', tokenRewards);
  const est = estimator(opts.kind ?? 'k1');
  return tokenRewards.map((s, i) =>
    s.map((r, t) => r - opts.beta * clamped(est.value(logp[i][t] - refLogp[i][t]), opts.clamp)),
  );
}

/** KL folded into sequence rewards (TRL RLOO): r_i − β·Σ_t kl(logp, refLogp). */
export function klPenalizedSequenceRewards(
  rewards: number[],
  logp: Ragged,
  refLogp: Ragged,
  opts: KlRewardOptions,
): number[] {
  checkLength('rewards', rewards, logp.length, 'one reward per completion');
  checkSameShape('refLogp', refLogp, 'logp', logp);
  const est = estimator(opts.kind ?? 'k1');
  return rewards.map(
    (r, i) =>
      r - opts.beta * logp[i].reduce((acc, lp, t) => acc + clamped(est.value(lp - refLogp[i][t]), opts.clamp), 0),
  );
}
