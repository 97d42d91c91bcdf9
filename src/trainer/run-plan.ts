/**
 * What an RL run decides before its first step, resolved once from the config and the registries: the methods
 * with their parsed options, the critic (the one place that knows whether the run has one), the rewards with
 * their weights and the one that decides correctness, the passes' sizes, sampling and log-prob settings, and the
 * learning-rate schedules. The stages read this plan and never the config (docs/architecture.md, "The RL step").
 */
import { advantageEstimators, policyLosses, type CriticSettings } from '../algorithms/index.ts';
import type { LrSchedule } from '../engine/schedule.ts';
import { buildRewards, correctnessReward, type RewardSpec } from '../rewards/index.ts';
import { GrpoError } from '../errors.ts';
import { comparesWithinGroups, resolveAlgorithm, type ResolvedAlgorithm } from './config/presets.ts';
import type { TrainConfig } from './config/schema.ts';
import type { TransformRun } from './transforms/index.ts';

/** The optimizer group of a critic trained with its own lr or steps (docs/methods/ppo.md). */
export const CRITIC_GROUP = 'critic';

/** The value head that trains beside the policy (PPO with GAE). */
export interface Critic {
  /** value-loss weight and clip, lr, update steps, as the advantage estimator sets them */
  settings: CriticSettings;
  /**
   * the optimizer group of its own (CRITIC_GROUP) when it has its own lr or steps, as ORZ gives the critic an
   * optimizer of its own; null: the value head is one more parameter of the policy's group
   */
  group: string | null;
  /** its group's schedule: the policy's with the critic's lr, warm-up and decay counted in its own steps */
  schedule: LrSchedule | null;
  /** it trains in a pass of its own (`settings.updateSteps` steps per rollout batch) before the policy; else in the policy's backward */
  ownPass: boolean;
}

/** What sampling a step's completions takes. */
export interface SamplingPlan {
  promptsPerStep: number;
  groupSize: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  stop: string[];
}

/** How many sequences one forward (and backward) pass holds. */
export interface PassSizes {
  /** sequences per pass of the pass stage (reference, behaviour, critic values) and per pass of the critic's own update */
  sequences: number;
  /** groups per update pass, for losses over whole groups */
  groups: number;
  /** sequences per update pass, for losses whose sequences are independent (PPO clip, GSPO); unset: whole groups */
  independentSequences?: number;
}

export interface RunPlan {
  algorithm: ResolvedAlgorithm;
  critic: Critic | null;
  /** the rewards in use, each with its weight (the config's, or those given to train) */
  rewards: RewardSpec[];
  /** the reward whose value ≥ 1 means correct; undefined when none decides it */
  correctness?: string;
  sampling: SamplingPlan;
  /** what the batch transforms (algorithm.transforms) know of the run */
  transformRun: TransformRun;
  /** the temperature every pass computes log-probs at: the sampling temperature (TRL scales logits by it too) */
  logprobTemperature: number;
  passes: PassSizes;
  /** the policy's schedule over all of its optimizer steps */
  schedule: LrSchedule;
  maxGradNorm: number;
  seed: number;
  steps: number;
}

export function resolveRunPlan(
  config: TrainConfig,
  opts: { rewards?: RewardSpec[]; correctness?: string } = {},
): RunPlan {
  const r = config.rollout,
    t = config.training,
    o = config.optimizer;
  const algorithm = decoupledByDefault(
    resolveAlgorithm(config.algorithm, { groupSize: r.group_size, maxTokens: r.max_tokens }),
    config,
  );
  const updatesPerStep = algorithm.mini_batches * algorithm.num_iterations;
  const schedule: LrSchedule = {
    kind: o.schedule,
    lr: o.lr,
    warmupSteps: o.warmup_steps,
    totalSteps: t.steps * updatesPerStep,
    minRatio: o.min_lr_ratio,
  };
  const correctness = opts.correctness ?? correctnessReward(config.rewards);
  const groupRelative = comparesWithinGroups(algorithm.advantage, algorithm.loss);
  const plan: RunPlan = {
    algorithm,
    critic: criticOf(algorithm, schedule, updatesPerStep, t.steps),
    rewards: opts.rewards ?? buildRewards(config.rewards),
    correctness,
    transformRun: { groupSize: r.group_size, maxTokens: r.max_tokens, groupRelative, correctness },
    sampling: {
      promptsPerStep: r.prompts_per_step,
      groupSize: r.group_size,
      maxTokens: r.max_tokens,
      temperature: r.temperature,
      topP: r.top_p,
      topK: r.top_k,
      minP: r.min_p,
      stop: r.stop,
    },
    logprobTemperature: r.temperature,
    passes: {
      sequences: t.micro_batch_sequences ?? t.micro_batch_groups * r.group_size,
      groups: t.micro_batch_groups,
      independentSequences: t.micro_batch_sequences,
    },
    schedule,
    maxGradNorm: o.max_grad_norm,
    seed: config.seed,
    steps: t.steps,
  };
  checkCorrectnessNeeds(plan);
  return plan;
}

/**
 * Asynchronous rollouts (rollout.max_staleness ≥ 1) train on completions sampled by an older policy. Unless the
 * config chooses a rollout correction, the loss is AReaL's decoupled objective (Fu et al. 2025, §5.1): the clip
 * ratio is taken against the recomputed log-probs of the policy before this update (the proximal policy), and each
 * token is weighted by π_prox / π_behav, the tokens whose weight exceeds 5 leaving the loss (AReaL's
 * behav_imp_weight_cap) — our `token_mask` correction with max 5 and no lower bound.
 */
function decoupledByDefault(algorithm: ResolvedAlgorithm, config: TrainConfig): ResolvedAlgorithm {
  const a = config.algorithm;
  if (config.rollout.max_staleness === 0 || a.rollout_correction !== undefined) return algorithm;
  if (policyLosses.get(algorithm.loss).tokenWeights === false) return algorithm;
  return {
    ...algorithm,
    rollout_correction: 'token_mask',
    rollout_correction_max: a.rollout_correction_max ?? 5,
    rollout_correction_min: a.rollout_correction_min ?? 0,
  };
}

/** The critic of a method with a value head, or null. */
export function criticOf(
  algorithm: ResolvedAlgorithm,
  policy: LrSchedule,
  updatesPerStep: number,
  steps: number,
): Critic | null {
  const settings = advantageEstimators.get(algorithm.advantage).critic?.(algorithm.advantage_options);
  if (!settings) return null;
  const ownPass = settings.updateSteps > 0;
  if (settings.lr === undefined && !ownPass) return { settings, group: null, schedule: null, ownPass };
  const schedule = {
    ...policy,
    lr: settings.lr ?? policy.lr,
    totalSteps: steps * (ownPass ? settings.updateSteps : updatesPerStep),
  };
  return { settings, group: CRITIC_GROUP, schedule, ownPass };
}

/** A policy loss or batch transform that reads correctness (DisCO, DAPO's dynamic sampling) needs a reward that decides it. */
function checkCorrectnessNeeds(plan: RunPlan): void {
  if (plan.correctness) return;
  const { algorithm } = plan;
  const lossWayOut = policyLosses.get(algorithm.loss).needsCorrectness?.(algorithm.loss_options);
  if (lossWayOut !== undefined)
    throw noCorrectness(`policy loss '${algorithm.loss}' splits answers by correctness`, lossWayOut);
  for (const { transform: t, options } of algorithm.batch_transforms) {
    const wayOut = t.needsCorrectness?.(options);
    if (wayOut !== undefined)
      throw noCorrectness(`batch transform '${t.name}' (${t.description}) reads correctness`, wayOut);
  }
}

function noCorrectness(what: string, wayOut: string): GrpoError {
  return new GrpoError(
    'config',
    `${what}, but no reward of this run decides it (math, countdown, code, or train({ correctness })); ${wayOut}`,
  );
}
