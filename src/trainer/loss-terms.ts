/**
 * The terms of the update's loss on one micro-batch — the policy loss, the KL to the reference, the critic's value
 * loss, the entropy bonus — each returning its loss, its per-token coefficients (DESIGN.md's seam: dL/dlogp,
 * dL/dV, dL/dH) and its statistics. `sumTerms` adds them once; the backward takes the sums.
 */
import {
  aggregationWeights,
  klLoss,
  sumLosses,
  valueLoss,
  type AggregationNormalizer,
  type CriticSettings,
  type LossResult,
  type PolicyLoss,
  type Ragged,
} from '../algorithms/index.ts';
import type { RunPlan } from './run-plan.ts';
import type { UpdateSequence } from './update-sequence.ts';

/** One micro-batch of the update, with what its forward pass computed. */
export interface MicroBatch {
  part: UpdateSequence[];
  logp: Ragged;
  values?: Ragged;
  entropy: Ragged;
  /** 0/1 per token: 0 leaves every term and its counts (overlong filter, inserted tokens) */
  mask?: Ragged;
  /** the mini-batch's counts, so micro-batching never changes the update */
  normalizer: AggregationNormalizer;
  groupSizes: number[];
  /** sequences of the whole mini-batch */
  miniSequences: number;
}

export interface LossTerm {
  loss: number;
  dlogp?: Ragged;
  dvalues?: Ragged;
  dentropy?: Ragged;
  stats: Record<string, number>;
}

const common = (plan: RunPlan) => ({ aggregation: plan.algorithm.aggregation, maxLength: plan.sampling.maxTokens });

/**
 * The method's policy loss. A loss normalised within its micro-batch (DisCO, GVPO) counts by its share of the
 * mini-batch's sequences, as the references scale each micro-batch's loss (verl loss_scale_factor: 1/GA for equal
 * micro-batches); the others already count with the mini-batch's normaliser.
 */
export function policyTerm(plan: RunPlan, method: PolicyLoss, mb: MicroBatch): LossTerm {
  const { part, logp } = mb;
  const r = microBatchPolicyLoss(
    method,
    plan.algorithm.loss_options,
    {
      logp,
      oldLogp: part.map((s) => s.oldLogp),
      advantages: part.map((s) => s.advantages),
      rewards: part.map((s) => s.reward),
      correct: part.every((s) => s.correct !== undefined) ? part.map((s) => (s.correct ? 1 : 0)) : undefined,
      groupSize: mb.groupSizes,
      mask: mb.mask,
      normalizer: mb.normalizer,
      logpDetached: logp,
      ...common(plan),
      weights: part[0].weights ? part.map((s) => s.weights!) : undefined,
    },
    mb.miniSequences,
  );
  return { loss: r.loss, dlogp: r.dlogp, stats: r.stats ?? {} };
}

export function microBatchPolicyLoss(
  method: PolicyLoss,
  options: Record<string, unknown>,
  batch: Parameters<PolicyLoss['loss']>[0],
  miniBatchSequences: number,
): LossResult {
  const r = method.loss(batch, options);
  if (method.scale !== 'per-micro-batch') return r;
  const share = batch.logp.length / miniBatchSequences;
  return { ...r, loss: r.loss * share, dlogp: r.dlogp.map((row) => row.map((g) => g * share)) };
}

/** β·agg(KL) to the reference when the KL is a loss term; stats: its mean estimate and the tokens it is over. */
export function klTerm(plan: RunPlan, mb: MicroBatch): LossTerm | null {
  const { algorithm } = plan;
  if (!(algorithm.kl_beta > 0 && algorithm.kl_placement === 'loss')) return null;
  const k = klLoss({
    logp: mb.logp,
    refLogp: mb.part.map((s) => s.refLogp!),
    kind: algorithm.kl_estimator,
    beta: algorithm.kl_beta,
    clamp: algorithm.kl_clamp || undefined,
    ...common(plan),
    normalizer: mb.normalizer,
    mask: mb.mask,
    logpDetached: mb.logp,
  });
  const tokens = mb.mask
    ? mb.mask.reduce((s, m) => s + m.reduce((x, y) => x + y, 0), 0)
    : mb.logp.reduce((s, l) => s + l.length, 0);
  return { loss: k.loss, dlogp: k.dlogp, stats: { kl: k.stats?.kl ?? 0, kl_tokens: tokens } };
}

/** The critic's clipped value loss, weighted by its coefficient, when it trains in the policy's backward. */
export function valueTerm(critic: CriticSettings | undefined, plan: RunPlan, mb: MicroBatch): LossTerm | null {
  if (!critic) return null;
  const v = valueLoss({
    values: mb.values!,
    oldValues: mb.part.map((s) => s.oldValues!),
    returns: mb.part.map((s) => s.returns!),
    clipRange: critic.clip,
    ...common(plan),
    normalizer: mb.normalizer,
    mask: mb.mask,
  });
  return {
    loss: critic.coef * v.loss,
    dvalues: v.dvalues.map((row) => row.map((x) => critic.coef * x)),
    stats: { value_loss: v.loss, value_clip_ratio: v.stats.value_clip_ratio },
  };
}

/**
 * The entropy bonus −c·agg(H): coefficient −c × each token's aggregation weight. The entropy is always reported
 * (TRL `entropy`); with c = 0 the term adds nothing and builds no backward.
 */
export function entropyTerm(plan: RunPlan, mb: MicroBatch): LossTerm {
  const c = plan.algorithm.entropy_coef;
  let sum = 0,
    tokens = 0;
  mb.entropy.forEach((row, i) =>
    row.forEach((h, t) => {
      if (!mb.mask || mb.mask[i][t] === 1) {
        sum += h;
        tokens++;
      }
    }),
  );
  const stats = { entropy_sum: sum, entropy_tokens: tokens };
  if (c === 0) return { loss: 0, stats };
  const w = aggregationWeights(
    plan.algorithm.aggregation,
    mb.part.map((s) => s.oldLogp.length),
    { ...common(plan), normalizer: mb.normalizer, mask: mb.mask },
  );
  const loss = -c * w.reduce((s, row, i) => s + row.reduce((t, x, j) => t + x * mb.entropy[i][j], 0), 0);
  return { loss, dentropy: w.map((row) => row.map((x) => -c * x)), stats };
}

/** The terms added once: the loss and the coefficients the backward takes; `finite` false when any is not. */
export function sumTerms(terms: (LossTerm | null)[]): {
  loss: number;
  dlogp?: Ragged;
  dvalues?: Ragged;
  dentropy?: Ragged;
  finite: boolean;
} {
  const present = terms.filter((t): t is LossTerm => t !== null);
  const withLogp = present.filter((t) => t.dlogp).map((t) => ({ loss: 0, dlogp: t.dlogp! }));
  const dlogp = withLogp.length ? sumLosses(...withLogp).dlogp : undefined;
  const dvalues = present.find((t) => t.dvalues)?.dvalues;
  const dentropy = present.find((t) => t.dentropy)?.dentropy;
  const loss = present.reduce((s, t) => s + t.loss, 0);
  const finite =
    Number.isFinite(loss) &&
    [dlogp, dvalues, dentropy].every((rows) => !rows || rows.every((row) => row.every(Number.isFinite)));
  return { loss, dlogp, dvalues, dentropy, finite };
}
