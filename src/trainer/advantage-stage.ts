/**
 * From scored rollouts to per-token advantages (and returns for the critic), following the resolved method:
 * optional KL folded into the reward, then the estimator (group baselines, GDPO, REINFORCE++ returns, GAE),
 * then HICRA amplification of planning tokens. Pure orchestration of src/algorithms.
 */
import {
  advantageEstimators, broadcastToTokens, gaeBatch, gdpoAdvantages, hicraAdvantages, klPenalizedSequenceRewards,
  klPenalizedTokenRewards, outcomeTokenRewards, planningTokenMasks, reinforcePlusPlusAdvantages, scatterMasked, selectMasked,
  type Ragged,
} from '../algorithms/index.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';

export interface AdvantageInput {
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
  /** critic values of the completion tokens (GAE) */
  values?: Ragged;
  /** decoded text of each completion token (HICRA) */
  tokenTexts?: string[][];
  /**
   * multi-turn episodes: 1 where the model sampled the token, 0 where the environment inserted it. Advantages are
   * computed over the sampled tokens alone, as if the inserted ones were absent (verl's GAE skips observation
   * tokens' values and TD errors), and the inserted tokens get 0
   */
  sampledMask?: Ragged;
  /**
   * per-turn rewards (already included in `rewards`) on the sampled token that ended their turn: token-level
   * methods (GAE, REINFORCE++) credit them there instead of at the episode's end
   */
  turnRewards?: Ragged;
}

export interface AdvantageOutput {
  advantages: Ragged;
  /** critic targets (GAE only) */
  returns?: Ragged;
  /** rewards after KL shaping, per completion */
  shapedRewards: number[];
}

export function computeAdvantages(a: ResolvedAlgorithm, x: AdvantageInput): AdvantageOutput {
  if (x.sampledMask) {
    const m = x.sampledMask, pick = (r: Ragged | undefined, name: string) => r && selectMasked(r, m, name);
    const out = computeAdvantages(a, {
      ...x, sampledMask: undefined, oldLogp: pick(x.oldLogp, 'oldLogp')!, refLogp: pick(x.refLogp, 'refLogp'), values: pick(x.values, 'values'),
      turnRewards: pick(x.turnRewards, 'turnRewards'), tokenTexts: x.tokenTexts?.map((row, i) => row.filter((_, t) => m[i][t] === 1)),
    });
    return { ...out, advantages: scatterMasked(out.advantages, m), returns: out.returns && scatterMasked(out.returns, m) };
  }
  const lengths = x.oldLogp.map((l) => l.length);
  const klInReward = a.kl_beta > 0 && a.kl_placement === 'reward' && x.refLogp !== undefined;
  const tokenLevel = a.advantage === 'gae' || a.advantage === 'reinforce_pp';
  let shaped = x.rewards;
  if (klInReward && !tokenLevel) shaped = klPenalizedSequenceRewards(x.rewards, x.oldLogp, x.refLogp!, { beta: a.kl_beta, kind: a.kl_estimator });
  let advantages: Ragged;
  let returns: Ragged | undefined;
  const scaleOpts = { scale: a.scale_rewards, eps: a.adv_eps, std: a.std === 'bessel' ? ('sample' as const) : ('population' as const) };
  switch (a.advantage) {
    case 'grpo':
    case 'dr_grpo':
    case 'rloo':
    case 'reinforce_baseline': {
      const scale = a.advantage === 'dr_grpo' ? 'none' : scaleOpts.scale;
      const perSeq = advantageEstimators[a.advantage](shaped, x.groupSizes, { ...scaleOpts, scale, lengths });
      advantages = broadcastToTokens(perSeq, lengths);
      break;
    }
    case 'gdpo':
      advantages = broadcastToTokens(gdpoAdvantages(x.rewardsByFunc, x.groupSizes, { weights: x.rewardWeights }), lengths);
      break;
    case 'reinforce_pp': {
      let tokenRewards = episodeTokenRewards(x, lengths);
      if (klInReward) tokenRewards = klPenalizedTokenRewards(tokenRewards, x.oldLogp, x.refLogp!, { beta: a.kl_beta, kind: a.kl_estimator });
      ({ advantages, returns } = reinforcePlusPlusAdvantages(tokenRewards, { gamma: a.gamma, whiten: a.whiten_advantages }));
      returns = undefined;
      break;
    }
    case 'gae': {
      if (!x.values) throw new Error('GAE needs critic values');
      let tokenRewards = episodeTokenRewards(x, lengths);
      if (klInReward) tokenRewards = klPenalizedTokenRewards(tokenRewards, x.oldLogp, x.refLogp!, { beta: a.kl_beta, kind: a.kl_estimator });
      ({ advantages, returns } = gaeBatch(tokenRewards, x.values, { gamma: a.gamma, lambda: a.lambda, whiten: a.whiten_advantages ? 'sample' : false }));
      break;
    }
    case 'none':
      advantages = lengths.map((n) => new Array<number>(n).fill(0));
      break;
  }
  if (a.hicra_alpha > 0 && x.tokenTexts) {
    advantages = hicraAdvantages(advantages, planningTokenMasks(x.tokenTexts, a.hicra_grams), a.hicra_alpha);
  }
  return { advantages, returns, shapedRewards: shaped };
}

/** The outcome reward on the last token, and per-turn rewards (moved out of the outcome) on their turns' last tokens. */
function episodeTokenRewards(x: AdvantageInput, lengths: number[]): Ragged {
  if (!x.turnRewards) return outcomeTokenRewards(x.rewards, lengths);
  const turns = x.turnRewards;
  const outcome = outcomeTokenRewards(x.rewards.map((r, i) => r - turns[i].reduce((s, v) => s + v, 0)), lengths);
  return outcome.map((row, i) => row.map((v, t) => v + turns[i][t]));
}
