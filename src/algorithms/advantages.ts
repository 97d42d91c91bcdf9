import { GrpoError } from '../errors.ts';
import { checkLength, groupSlices, type Ragged } from './ragged.ts';
import { std, whiten, type StdKind } from './stats.ts';

/**
 * Outcome advantages: one scalar per completion, from one scalar reward per completion, with completions laid
 * out prompt by prompt (`groupSize` per prompt, or one size per group when groups differ, e.g. after GFPO).
 */
export type OutcomeEstimator = 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_baseline';

export interface GroupAdvantageOptions {
  estimator?: OutcomeEstimator;
  /**
   * 'group': divide by the group's reward std + eps (GRPO). 'batch': for grpo/dr_grpo/rloo divide by the std of the
   * raw rewards over the whole batch (TRL scale_rewards="batch", "Lite-PPO"); for reinforce_baseline whiten the
   * centred values over the batch (verl/OpenRLHF). 'none': centring only (Dr. GRPO; OpenRLHF no_std_norm).
   * Default: grpo 'group', dr_grpo 'none', rloo 'none', reinforce_baseline 'batch'.
   */
  scale?: 'group' | 'batch' | 'none';
  /**
   * Default 1e-6, added to the std (verl compute_grpo_outcome_advantage); TRL uses 1e-4, OpenRLHF 1e-9, Dr. GRPO
   * code 1e-8. For reinforce_baseline whitening the default is 1e-8 inside the sqrt (verl masked_whiten).
   */
  eps?: number;
  /** Default 'sample' (Bessel: TRL, verl, OpenRLHF); 'population' is ORZ's normalize_advantages. */
  std?: StdKind;
  /**
   * A group of one has no baseline. Default 'zero' (TRL: r − mean = 0); 'raw' keeps the reward itself
   * (verl grpo/rloo: mean 0, std 1).
   */
  singletonGroup?: 'zero' | 'raw';
  /** Completion lengths: makes reinforce_baseline's batch whitening token-weighted, as verl and OpenRLHF do. */
  lengths?: readonly number[];
}

function checkFinite(name: string, xs: readonly number[]): void {
  xs.forEach((x, i) => {
    if (!Number.isFinite(x)) {
      throw new GrpoError(
        'value',
        `${name}[${i}] is ${x}; every reward must be a finite number (score failures as 0 or drop the group)`,
      );
    }
  });
}

/** Group-relative advantages for GRPO, Dr. GRPO, RLOO and REINFORCE++-baseline (docs/methods/grpo.md, dr_grpo.md, rloo.md, reinforce_pp.md). */
export function groupAdvantages(
  rewards: number[],
  groupSize: number | readonly number[],
  opts: GroupAdvantageOptions = {},
): number[] {
  const estimator = opts.estimator ?? 'grpo';
  const defaultScale = { grpo: 'group', dr_grpo: 'none', rloo: 'none', reinforce_baseline: 'batch' } as const;
  if (!(estimator in defaultScale)) {
    throw new GrpoError(
      'config',
      `unknown advantage estimator '${estimator}'; use one of ${Object.keys(defaultScale).join(', ')}`,
    );
  }
  const scale = opts.scale ?? defaultScale[estimator];
  const whitenBatch = estimator === 'reinforce_baseline';
  const eps = opts.eps ?? (whitenBatch && scale === 'batch' ? 1e-8 : 1e-6);
  const stdKind = opts.std ?? 'sample';
  checkFinite('rewards', rewards);
  const out = new Array<number>(rewards.length);
  for (const [s, e] of groupSlices(rewards.length, groupSize)) {
    const g = rewards.slice(s, e);
    if (g.length === 1) {
      out[s] = (opts.singletonGroup ?? 'zero') === 'raw' ? g[0] : 0;
      continue;
    }
    const sum = g.reduce((a, b) => a + b, 0);
    const groupMean = sum / g.length;
    const groupStd = scale === 'group' ? std(g, stdKind) : 1;
    for (let i = s; i < e; i++) {
      // RLOO baseline: mean of the other n−1 rewards (verl compute_rloo_outcome_advantage, OpenRLHF).
      const baseline = estimator === 'rloo' ? (sum - rewards[i]) / (g.length - 1) : groupMean;
      const centred = rewards[i] - baseline;
      out[i] = scale === 'group' ? centred / (groupStd + eps) : centred;
    }
  }
  if (scale !== 'batch') return out;
  if (whitenBatch) {
    if (opts.lengths) checkLength('lengths', opts.lengths, rewards.length, 'one length per completion');
    return whiten(out, { weights: opts.lengths, eps, std: stdKind, floor: stdKind === 'population' });
  }
  // TRL scale_rewards="batch": the std is of the raw rewards over the batch, not of the centred advantages.
  const batchStd = rewards.length > 1 ? std(rewards, stdKind) : 0;
  return out.map((a) => a / (batchStd + eps));
}

/** Place each outcome score on its completion's last token (ORZ compute_reward, OpenRLHF), zeros elsewhere. */
export function outcomeTokenRewards(scores: readonly number[], lengths: readonly number[]): Ragged {
  checkLength('scores', scores, lengths.length, 'one score per completion');
  return lengths.map((len, i) => {
    if (len < 1)
      throw new GrpoError(
        'shape',
        `completion ${i} has no tokens, so its reward has nowhere to go; keep the EOS token in the completion`,
      );
    const r = new Array<number>(len).fill(0);
    r[len - 1] = scores[i];
    return r;
  });
}

/**
 * REINFORCE++-baseline as OpenRLHF computes it with the KL in the reward: the group's mean outcome reward is
 * subtracted on each completion's last token (where the outcome sits), the per-token KL penalties stay where they
 * are, and the returns-to-go of that are whitened over the batch (`experience_maker.py`: r − mean_g, compute_reward,
 * get_cumulative_returns, then the batch normalisation). verl instead sums the penalties into each completion's
 * score before the baseline (groupAdvantages with estimator reinforce_baseline).
 */
export function reinforceBaselineReturnsToGo(
  tokenRewards: Ragged,
  outcomeRewards: readonly number[],
  groupSize: number | readonly number[],
  opts: { gamma?: number; whiten?: boolean; eps?: number; std?: StdKind } = {},
): { advantages: Ragged; returns: Ragged } {
  checkLength('outcomeRewards', outcomeRewards, tokenRewards.length, 'one reward per completion');
  checkFinite('outcomeRewards', outcomeRewards);
  const centred = tokenRewards.map((row) => row.slice());
  for (const [s, e] of groupSlices(outcomeRewards.length, groupSize)) {
    const mean = outcomeRewards.slice(s, e).reduce((a, b) => a + b, 0) / (e - s);
    for (let i = s; i < e; i++) if (centred[i].length) centred[i][centred[i].length - 1] -= mean;
  }
  return reinforcePlusPlusAdvantages(centred, opts);
}

/**
 * REINFORCE++ (verl compute_reinforce_plus_plus_outcome_advantage): per-token discounted return-to-go
 * G_t = r_t + γ·G_{t+1}, then whitened over every token of the batch (sample variance, eps 1e-8 inside the sqrt).
 */
export function reinforcePlusPlusAdvantages(
  tokenRewards: Ragged,
  opts: { gamma?: number; whiten?: boolean; eps?: number; std?: StdKind } = {},
): { advantages: Ragged; returns: Ragged } {
  const gamma = opts.gamma ?? 1;
  const returns = tokenRewards.map((r) => {
    const g = new Array<number>(r.length);
    let running = 0;
    for (let t = r.length - 1; t >= 0; t--) {
      running = r[t] + gamma * running;
      g[t] = running;
    }
    return g;
  });
  if (opts.whiten === false) return { advantages: returns.map((g) => g.slice()), returns };
  // population std: OpenRLHF's form, rsqrt(max(var, 1e-8)); sample std: verl's, 1/sqrt(var + 1e-8)
  const flat = whiten(returns.flat(), {
    eps: opts.eps ?? 1e-8,
    std: opts.std ?? 'sample',
    floor: opts.std === 'population',
  });
  let k = 0;
  const advantages = returns.map((g) => g.map(() => flat[k++]));
  return { advantages, returns };
}
