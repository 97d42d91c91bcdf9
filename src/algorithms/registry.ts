/**
 * Open registries of methods. A method is one object: its name, a zod schema of its options with the paper's
 * defaults, what it needs from the trainer, and its function. The config's `algorithm.advantage` /
 * `algorithm.loss` name one, its options sit beside them (`algorithm.epsilon`, `algorithm.disco_tau`, …), and a user
 * adds one from TypeScript with `registerAdvantageEstimator` / `registerPolicyLoss` (verl `@register_adv_est`,
 * `@register_policy_loss`). Nothing outside a method's own file checks its name.
 */
import type { z } from 'zod';
import { GrpoError } from '../errors.ts';
import type { AggregationMode, AggregationNormalizer } from './aggregation.ts';
import type { LossResult, Ragged } from './ragged.ts';

/** A zod object schema of a method's options; every key has a default or is optional. */
export type OptionsSchema = z.ZodObject;

/** Everything an advantage estimator may read; rewards are already KL-shaped when the KL penalty is in the reward. */
export interface AdvantageInput {
  /** one (weighted, shaped) reward per completion, laid out group by group */
  rewards: number[];
  /** each completion's reward before a KL penalty in the reward (equal to `rewards` without one); default `rewards` */
  outcomeRewards?: number[];
  /** the outcome reward on each completion's last token, plus the per-token KL penalty when it is in the reward */
  tokenRewards: () => Ragged;
  /** each reward function on its own: rewardsByFunc[k][i] (GDPO) */
  rewardsByFunc: number[][];
  rewardWeights: number[];
  /** completions per group, in order */
  groupSizes: number[];
  /** tokens per completion */
  lengths: number[];
  /** critic values of the completion tokens (estimators with a critic) */
  values?: Ragged;
}

export interface AdvantageOutput {
  advantages: Ragged;
  /** critic targets, for estimators with a critic */
  returns?: Ragged;
}

/** How the critic's value head trains (docs/methods/ppo.md). */
export interface CriticSettings {
  /** weight of the value loss in the policy's backward (used when updateSteps is 0) */
  coef: number;
  /** value clip range of its loss */
  clip: number;
  /** learning rate of the value head, in an optimizer group of its own; undefined: the policy's */
  lr?: number;
  /** > 0: optimizer steps of the critic per rollout batch, in a pass of its own; 0: it trains in the policy's backward */
  updateSteps: number;
}

export interface AdvantageEstimator<S extends OptionsSchema = OptionsSchema> {
  name: string;
  /** one line for `grpo config` and errors */
  description: string;
  options: S;
  /** advantages are relative to the other completions of a prompt: a group of one is refused */
  groupRelative?: boolean;
  /** a value head trains beside the policy, with these settings */
  critic?: (options: z.infer<S>) => CriticSettings;
  compute: (input: AdvantageInput, options: z.infer<S>) => AdvantageOutput;
}

/** Everything a policy loss may read from a micro-batch. */
export interface PolicyLossBatch {
  logp: Ragged;
  oldLogp: Ragged;
  /** per token (or one per completion) */
  advantages: Ragged | number[];
  /** one reward per completion */
  rewards: number[];
  /** 1 where the run's correctness reward says the completion is right, else 0; absent when no reward decides it */
  correct?: number[];
  /** completions per group, in order (losses that need whole groups get whole groups) */
  groupSize: number | readonly number[];
  /** 0/1 per token: 0 leaves the loss and its counts */
  mask?: Ragged;
  /** detached per-token multipliers (TIS / MIS corrections) */
  weights?: Ragged;
  aggregation: AggregationMode;
  /** token and sequence counts of the whole mini-batch, so micro-batching never changes the update */
  normalizer?: AggregationNormalizer;
  maxLength?: number;
  /** values of logp inside stop-gradients */
  logpDetached?: Ragged;
}

export interface PolicyLoss<S extends OptionsSchema = OptionsSchema> {
  name: string;
  description: string;
  options: S;
  /** the loss compares completions of one prompt: micro-batches hold whole groups, a group of one is refused */
  wholeGroups?: boolean;
  /**
   * 'normalized' (default): the loss counts with the mini-batch's normaliser, so micro-batch losses add up to the
   * mini-batch loss. 'per-micro-batch': the loss is normalised within its micro-batch, and the reference weights each
   * micro-batch by its share of the mini-batch's sequences (verl's loss_scale_factor, 1/GA for equal micro-batches).
   */
  scale?: 'normalized' | 'per-micro-batch';
  /** false: the loss takes no per-token weights (a rollout correction is refused; asynchronous runs go without) */
  tokenWeights?: false;
  /**
   * The loss reads `batch.correct` with these options: returns how to do without it (the run refuses to start
   * when no reward decides correctness), or undefined when it does not read it.
   */
  needsCorrectness?: (options: z.infer<S>) => string | undefined;
  loss: (batch: PolicyLossBatch, options: z.infer<S>) => LossResult;
}

/** A name → method map that refuses a second method under a taken name and names the known ones when asked. */
export class Registry<T extends { name: string }> {
  private readonly items = new Map<string, T>();
  constructor(readonly kind: string) {}

  add(item: T): T {
    if (!/^[a-z][\w-]*$/.test(item.name))
      throw new GrpoError(
        'config',
        `${this.kind} name '${item.name}' must start with a lowercase letter and hold only letters, digits, '_' and '-'`,
      );
    if (this.items.has(item.name))
      throw new GrpoError('config', `${this.kind} '${item.name}' is already registered; pick another name`);
    this.items.set(item.name, item);
    return item;
  }

  get(name: string): T {
    const item = this.items.get(name);
    if (!item)
      throw new GrpoError(
        'config',
        `unknown ${this.kind} '${name}'; use one of ${this.names().join(', ')} (or register one)`,
      );
    return item;
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  names(): string[] {
    return [...this.items.keys()];
  }

  all(): T[] {
    return [...this.items.values()];
  }
}

export const advantageEstimators = new Registry<AdvantageEstimator>('advantage estimator');
export const policyLosses = new Registry<PolicyLoss>('policy loss');

/** Adds an advantage estimator that `algorithm.advantage` can name; returns it. */
export function registerAdvantageEstimator<S extends OptionsSchema>(
  estimator: AdvantageEstimator<S>,
): AdvantageEstimator<S> {
  advantageEstimators.add(estimator as unknown as AdvantageEstimator);
  return estimator;
}

/** Adds a policy loss that `algorithm.loss` can name; returns it. */
export function registerPolicyLoss<S extends OptionsSchema>(loss: PolicyLoss<S>): PolicyLoss<S> {
  policyLosses.add(loss as unknown as PolicyLoss);
  return loss;
}

/** A bad `algorithm.<key>`: the message names the key; `key` and `detail` let a schema report it at its path. */
export class AlgorithmKeyError extends GrpoError {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super('config', `algorithm.${key}: ${detail}`);
  }
}

/** Parses a method's options (unknown keys are errors, missing ones take the paper's defaults). */
export function methodOptions(
  method: { name: string; options: OptionsSchema },
  kind: string,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const r = method.options.strict().safeParse(values);
  if (r.success) return r.data as Record<string, unknown>;
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys')
    throw new AlgorithmKeyError(issue.keys[0], `not an option of ${kind} '${method.name}'`);
  throw new AlgorithmKeyError(issue.path.join('.'), `${issue.message} (an option of ${kind} '${method.name}')`);
}
