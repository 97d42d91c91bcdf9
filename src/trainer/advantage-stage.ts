/**
 * From scored rollouts to per-token advantages (and returns for the critic), following the resolved method:
 * optional KL folded into the reward, then the registered advantage estimator, then HICRA amplification of
 * planning tokens. Pure orchestration of src/algorithms.
 */
import {
  advantageEstimators, hicraAdvantages, klPenalizedSequenceRewards, klPenalizedTokenRewards, outcomeTokenRewards,
  planningTokenMasks, type Ragged,
} from '../algorithms/index.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';

export interface AdvantageStageInput {
  /** weighted total reward per completion (after shaping) */
  rewards: number[];
  /** each reward on its own, for GDPO: rewardsByFunc[k][i] */
  rewardsByFunc: number[][];
  rewardWeights: number[];
  /** completion sizes of consecutive groups */
  groupSizes: number[];
  /** behaviour-policy log-probs of the completion tokens */
  oldLogp: Ragged;
  /** reference log-probs (needed when KL goes into the reward) */
  refLogp?: Ragged;
  /** critic values of the completion tokens (estimators with a critic) */
  values?: Ragged;
  /** decoded text of each completion token (HICRA) */
  tokenTexts?: string[][];
}

export interface AdvantageStageOutput {
  advantages: Ragged;
  /** critic targets (estimators with a critic) */
  returns?: Ragged;
  /** rewards after KL shaping, per completion */
  shapedRewards: number[];
}

export function computeAdvantages(a: ResolvedAlgorithm, x: AdvantageStageInput): AdvantageStageOutput {
  const lengths = x.oldLogp.map((l) => l.length);
  const kl = a.kl_beta > 0 && a.kl_placement === 'reward' && x.refLogp !== undefined ? { beta: a.kl_beta, kind: a.kl_estimator } : null;
  // the KL penalty in the reward: summed over each completion (TRL, verl), or per token for token-level estimators
  const shaped = kl ? klPenalizedSequenceRewards(x.rewards, x.oldLogp, x.refLogp!, kl) : x.rewards;
  const tokenRewards = () => {
    const outcome = outcomeTokenRewards(x.rewards, lengths);
    return kl ? klPenalizedTokenRewards(outcome, x.oldLogp, x.refLogp!, kl) : outcome;
  };
  const estimator = advantageEstimators.get(a.advantage);
  let { advantages, returns } = estimator.compute(
    { rewards: shaped, tokenRewards, rewardsByFunc: x.rewardsByFunc, rewardWeights: x.rewardWeights, groupSizes: x.groupSizes, lengths, values: x.values },
    a.advantage_options,
  );
  if (a.hicra_alpha > 0 && x.tokenTexts) {
    advantages = hicraAdvantages(advantages, planningTokenMasks(x.tokenTexts, a.hicra_grams), a.hicra_alpha);
  }
  return { advantages, returns: estimator.critic ? returns : undefined, shapedRewards: shaped };
}
