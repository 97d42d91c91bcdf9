/**
 * From rewarded rollouts and their passes' log-probs and values to per-token advantages (and returns for the
 * critic), following the resolved method: optional KL folded into the reward, then the registered advantage
 * estimator, then the batch transforms that act on advantages (HICRA's amplification of planning tokens). Pure
 * orchestration of src/algorithms; `advantageStage` turns a batch and its passes into the sequences the update
 * trains on.
 */
import {
  advantageEstimators,
  klPenalizedSequenceRewards,
  klPenalizedTokenRewards,
  outcomeTokenRewards,
  scatterMasked,
  selectMasked,
  type Ragged,
} from '../algorithms/index.ts';
import { GrpoError } from '../errors.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import type { RunPlan } from './run-plan.ts';
import type { PassBatch } from './pass-stage.ts';
import { isCorrect } from './rollouts.ts';
import type { UpdateSequence } from './update-sequence.ts';

/**
 * The sequences of the update: each completion with its advantages, behaviour and reference log-probs, critic
 * values and returns. GDPO weighs each reward by the weight the run gives it.
 */
export function advantageStage(plan: RunPlan, passes: PassBatch, tokenizer: Tokenizer): UpdateSequence[] {
  const { rollouts, sampledMask } = passes;
  if (rollouts.length === 0) return [];
  const { algorithm } = plan;
  const turnRewards = rollouts.some((r) => r.episode?.turnRewards.length)
    ? rollouts.map((r) => {
        const row = r.completionIds.map(() => 0);
        for (const t of r.episode?.turnRewards ?? []) row[t.at] += t.reward;
        return row;
      })
    : undefined;
  const names = Object.keys(rollouts[0].rewards);
  const weightOf = new Map(plan.rewards.map((r) => [r.name, r.weight]));
  const { advantages, returns } = computeAdvantages(algorithm, {
    rewards: rollouts.map((r) => r.reward),
    rewardsByFunc: names.map((n) => rollouts.map((r) => r.rewards[n])),
    rewardWeights: names.map((n) => weightOf.get(n) ?? 1),
    groupSizes: passes.groupSizes,
    oldLogp: passes.oldLogp,
    refLogp: passes.refLogp,
    values: passes.values,
    tokenTexts: () => rollouts.map((r) => r.completionIds.map((t) => tokenizer.decode([t]))),
    sampledMask,
    turnRewards,
  });
  const groupOf = passes.groupSizes.flatMap((n, g) => Array.from({ length: n }, () => g));
  return rollouts.map((r, i) => ({
    tokens: passes.tokens[i],
    promptLength: r.promptIds.length,
    group: groupOf[i],
    oldLogp: passes.oldLogp[i],
    advantages: advantages[i],
    reward: r.reward,
    correct: plan.correctness ? isCorrect(r, plan.correctness) : undefined,
    truncated: r.finishReason === 'length',
    refLogp: passes.refLogp?.[i],
    oldValues: passes.values?.[i],
    returns: returns?.[i],
    weights: passes.weights?.[i],
    sampledMask: sampledMask?.[i],
  }));
}

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
  /** decoded text of each completion token, computed when a batch transform reads it (HICRA) */
  tokenTexts?: () => string[][];
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

export interface AdvantageStageOutput {
  advantages: Ragged;
  /** critic targets (estimators with a critic) */
  returns?: Ragged;
  /** rewards after KL shaping, per completion */
  shapedRewards: number[];
}

export function computeAdvantages(algorithm: ResolvedAlgorithm, input: AdvantageStageInput): AdvantageStageOutput {
  if (input.sampledMask) return overSampledTokens(algorithm, input, input.sampledMask);
  const lengths = input.oldLogp.map((l) => l.length);
  const kl = rewardKl(algorithm, input);
  // the KL penalty in the reward: summed over each completion (TRL, verl), or per token for token-level estimators
  const shaped = kl ? klPenalizedSequenceRewards(input.rewards, input.oldLogp, input.refLogp!, kl) : input.rewards;
  const tokenRewards = () => {
    const outcome = episodeTokenRewards(input, lengths);
    return kl ? klPenalizedTokenRewards(outcome, input.oldLogp, input.refLogp!, kl) : outcome;
  };
  const estimator = advantageEstimators.get(algorithm.advantage);
  const { advantages, returns } = estimator.compute(
    {
      rewards: shaped,
      outcomeRewards: input.rewards,
      tokenRewards,
      rewardsByFunc: input.rewardsByFunc,
      rewardWeights: input.rewardWeights,
      groupSizes: input.groupSizes,
      lengths,
      values: input.values,
    },
    algorithm.advantage_options,
  );
  return {
    advantages: transformAdvantages(algorithm, advantages, input.tokenTexts),
    returns: estimator.critic ? returns : undefined,
    shapedRewards: shaped,
  };
}

/** Advantages over the sampled tokens alone, as if the inserted ones were absent; the inserted tokens get 0. */
function overSampledTokens(algorithm: ResolvedAlgorithm, input: AdvantageStageInput, m: Ragged): AdvantageStageOutput {
  const pick = (r: Ragged | undefined, name: string) => r && selectMasked(r, m, name);
  const out = computeAdvantages(algorithm, {
    ...input,
    sampledMask: undefined,
    oldLogp: pick(input.oldLogp, 'oldLogp')!,
    refLogp: pick(input.refLogp, 'refLogp'),
    values: pick(input.values, 'values'),
    turnRewards: pick(input.turnRewards, 'turnRewards'),
    tokenTexts: input.tokenTexts && (() => input.tokenTexts!().map((row, i) => row.filter((_, t) => m[i][t] === 1))),
  });
  return {
    ...out,
    advantages: scatterMasked(out.advantages, m),
    returns: out.returns && scatterMasked(out.returns, m),
  };
}

/** The KL penalty's settings when the method puts the KL in the reward (and the reference's log-probs are there). */
function rewardKl(algorithm: ResolvedAlgorithm, input: AdvantageStageInput) {
  return algorithm.kl_beta > 0 && algorithm.kl_placement === 'reward' && input.refLogp !== undefined
    ? { beta: algorithm.kl_beta, kind: algorithm.kl_estimator, clamp: algorithm.kl_clamp || undefined }
    : null;
}

/** The batch transforms that act on advantages (HICRA), over the sampled tokens. */
function transformAdvantages(
  algorithm: ResolvedAlgorithm,
  advantages: Ragged,
  tokenTexts: AdvantageStageInput['tokenTexts'],
): Ragged {
  let out = advantages;
  for (const { transform: t, options } of algorithm.batch_transforms) {
    if (t.advantages)
      out = t.advantages(
        out,
        tokenTexts ??
          (() => {
            throw new GrpoError(
              'config',
              `batch transform '${t.name}' reads the completions' token texts; pass tokenTexts`,
            );
          }),
        options,
      );
  }
  return out;
}

/** The outcome reward on the last token, and per-turn rewards (moved out of the outcome) on their turns' last tokens. */
function episodeTokenRewards(input: AdvantageStageInput, lengths: number[]): Ragged {
  if (!input.turnRewards) return outcomeTokenRewards(input.rewards, lengths);
  const turns = input.turnRewards;
  const outcome = outcomeTokenRewards(
    input.rewards.map((r, i) => r - turns[i].reduce((s, v) => s + v, 0)),
    lengths,
  );
  return outcome.map((row, i) => row.map((v, t) => v + turns[i][t]));
}
