/**
 * How the update cuts and masks its batches — shared by the policy's update (update-stage.ts) and the critic's own
 * (critic-update.ts): a mini-batch's loss mask and aggregation normaliser, counted over the whole mini-batch so
 * micro-batching never changes the update; its micro-batches; the positions a pass starts at.
 */
import { aggregationNormalizer, multiplyRagged, overlongFilterMask, type PolicyLoss } from '../algorithms/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import type { PassSizes, RunPlan } from './run-plan.ts';
import type { UpdateSequence } from './update-sequence.ts';

/** What an update runs with: the model it trains and the run's plan. */
export interface UpdateContext {
  model: LlamaModel;
  plan: RunPlan;
}

/** The loss mask of a mini-batch (overlong filter, tokens the environment inserted) and its aggregation normaliser. */
export function miniBatchMask(algorithm: ResolvedAlgorithm, mini: UpdateSequence[]) {
  const lengths = mini.map((s) => s.oldLogp.length);
  const overlong = algorithm.mask_truncated
    ? overlongFilterMask(
        mini.map((s) => s.truncated),
        lengths,
      )
    : undefined;
  const sampled = mini.some((s) => s.sampledMask)
    ? mini.map((s) => s.sampledMask ?? s.oldLogp.map(() => 1))
    : undefined;
  const mask = overlong && sampled ? multiplyRagged(overlong, sampled) : (overlong ?? sampled);
  return { lengths, mask, normalizer: aggregationNormalizer(lengths, mask) };
}

/** Passes score the completion alone: its tokens are predicted from positions promptLength − 1 … len − 2. */
export const completionFrom = (part: { promptLength: number }[]) => part.map((s) => s.promptLength - 1);

/**
 * Indices of each micro-batch: whole groups (`micro_batch_groups`), or — for the losses whose sequences are
 * independent given their advantages (PPO clip, GSPO) — at most `micro_batch_sequences` sequences, which bounds
 * the [vocabulary × tokens] memory of the log-prob head for large-vocabulary models.
 */
export function microBatches(
  mini: UpdateSequence[],
  groupIds: number[],
  passes: PassSizes,
  loss: PolicyLoss,
): number[][] {
  const perSequence = passes.independentSequences;
  if (perSequence && !loss.wholeGroups) {
    const out: number[][] = [];
    for (let i = 0; i < mini.length; i += perSequence)
      out.push(Array.from({ length: Math.min(perSequence, mini.length - i) }, (_, k) => i + k));
    return out;
  }
  const out: number[][] = [];
  const chunk = passes.groups;
  for (let g = 0; g < groupIds.length; g += chunk) {
    const ids = new Set(groupIds.slice(g, g + chunk));
    out.push(mini.map((s, i) => (ids.has(s.group) ? i : -1)).filter((i) => i >= 0));
  }
  return out;
}
