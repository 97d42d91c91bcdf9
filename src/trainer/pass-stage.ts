/**
 * The forward passes of a step that train nothing, between its rollouts and its advantages: the reference policy's
 * log-probs (KL), the critic's values, and the behaviour policy's log-probs where the sampler's are not exactly the
 * policy's (a rollout server, another precision), with the TIS / MIS weights that correct for the difference.
 * Each pass runs over micro-batches of whole groups, computing the completion tokens' numbers alone.
 */
import { rolloutCorrectionWeights } from '../algorithms/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Rollout, RolloutBatch } from './rollouts.ts';
import type { Reference } from './run-models.ts';
import type { RunPlan } from './run-plan.ts';

/** The models a step's passes run. */
export interface PassModels {
  policy: LlamaModel;
  /** the KL reference; null for a method without KL */
  reference: Reference | null;
  /** the sampler's log-probs are not the policy's own: recompute the behaviour log-probs (rollout-generator.ts) */
  recomputeBehaviour: boolean;
}

/** A step's completions, group by group, with what the passes computed for their completion tokens. */
export interface PassBatch {
  rollouts: Rollout[];
  /** each rollout's prompt and completion, as the passes read them */
  tokens: number[][];
  groupSizes: number[];
  /** behaviour-policy log-probs: recomputed, or the sampler's own */
  oldLogp: number[][];
  refLogp?: number[][];
  values?: number[][];
  /** per-token importance weights correcting the sampler's mismatch (TIS / MIS); unset without a correction */
  weights?: number[][];
  /** multi-turn episodes: 1 on sampled tokens, 0 on tokens the environment inserted (out of every loss term) */
  sampledMask?: number[][];
}

export function runPasses(plan: RunPlan, models: PassModels, batch: RolloutBatch): PassBatch {
  const { algorithm } = plan;
  const rollouts = batch.groups.flat();
  const groupSizes = batch.groups.map((g) => g.length);
  const tokens = rollouts.map((r) => [...r.promptIds, ...r.completionIds]);
  const pass = (m: LlamaModel, pick: 'logp' | 'values', adapters = true) => {
    const out: number[][] = [];
    const size = plan.passes.sequences;
    for (let i = 0; i < tokens.length; i += size) {
      const part = rollouts.slice(i, i + size);
      const p = m.forward(tokens.slice(i, i + size), {
        temperature: plan.logprobTemperature,
        adapters,
        logprobsFrom: part.map((r) => r.promptIds.length - 1),
      });
      out.push(...(pick === 'logp' ? p.logp : p.values!).map((row) => Array.from(row)));
    }
    return out;
  };
  const refLogp = models.reference ? pass(models.reference.model, 'logp', models.reference.adapters) : undefined;
  const values = plan.critic ? pass(models.policy, 'values') : undefined;
  // the sampler's log-probs enter only through the optional TIS / MIS correction (docs/methods/kl-and-corrections.md)
  const rolloutLogp = rollouts.map((r) => r.logprobs);
  const oldLogp = models.recomputeBehaviour ? pass(models.policy, 'logp') : rolloutLogp;
  const sampledMask = rollouts.some((r) => r.sampledMask)
    ? rollouts.map((r) => r.sampledMask ?? r.completionIds.map(() => 1))
    : undefined;
  const [level, mode] =
    algorithm.rollout_correction === 'none'
      ? []
      : (algorithm.rollout_correction.split('_') as ['token' | 'sequence', 'truncate' | 'mask']);
  const weights = level
    ? rolloutCorrectionWeights(oldLogp, rolloutLogp, {
        level,
        mode,
        max: algorithm.rollout_correction_max,
        min: algorithm.rollout_correction_min,
        mask: sampledMask,
      })
    : undefined;
  return { rollouts, tokens, groupSizes, oldLogp, refLogp, values, weights, sampledMask };
}
