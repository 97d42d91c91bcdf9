/**
 * The policy update of one step: `num_iterations` epochs over the rollout batch, each split into
 * `mini_batches` optimizer steps, each accumulated over micro-batches of whole groups. For every micro-batch:
 * forward (log-probs, values, entropy) → loss and per-token gradients from src/algorithms → backward of
 * Σ g·logp + Σ h·V + Σ e·H → and after the last micro-batch, one AdamW step.
 * Aggregation normalisers are counted over the whole mini-batch, so micro-batching never changes the update.
 * A critic with update steps of its own (Open-Reasoner-Zero) trains first, in a pass over its value head alone
 * (critic-update.ts).
 */
import { policyLosses } from '../algorithms/index.ts';
import { entropyTerm, klTerm, policyTerm, sumTerms, valueTerm, type LossTerm, type MicroBatch } from './loss-terms.ts';
import type { ForwardPass } from '../model/llama-model.ts';
import { learningRateAt } from '../engine/schedule.ts';
import { CRITIC_GROUP } from './run-plan.ts';
import { criticUpdate } from './critic-update.ts';
import { completionFrom, microBatches, miniBatchMask, type UpdateContext } from './update-batches.ts';
import type { UpdateSequence } from './update-sequence.ts';

export interface UpdateResult {
  loss: number;
  kl: number;
  entropy: number;
  clipRatio: number;
  /** the policy loss's own statistics (DisCO's kl, GVPO's implicit reward, …), averaged over mini-batches */
  policyStats: Record<string, number>;
  gradNorm: number;
  /** learning rate of the last optimizer step */
  lr: number;
  /** optimizer steps taken / skipped for non-finite loss or gradients */
  steps: number;
  skipped: number;
  /** the critic's statistics (`critic/<key>` metrics): value loss, clip ratio, and its own grad norm and lr when it has a group */
  critic?: Record<string, number>;
}

export function policyUpdate(ctx: UpdateContext, seqs: UpdateSequence[]): UpdateResult {
  const { algorithm, critic } = ctx.plan;
  const groups = [...new Set(seqs.map((s) => s.group))];
  const perMini = Math.ceil(groups.length / algorithm.mini_batches);
  // ORZ trains its critic before the policy in each step; here that keeps its first values equal to the old ones
  const criticStats = critic?.ownPass ? criticUpdate(ctx, seqs, critic) : undefined;
  const stats = { loss: 0, kl: 0, entropy: 0, clip: 0, grad: 0, n: 0, steps: 0, skipped: 0, lr: 0 };
  const policyStats: Record<string, number> = {};
  const joint: Record<string, number> = {};
  for (let epoch = 0; epoch < algorithm.num_iterations; epoch++) {
    for (let m = 0; m < groups.length; m += perMini) {
      const mine = new Set(groups.slice(m, m + perMini));
      const mini = seqs.filter((s) => mine.has(s.group));
      const r = miniBatchStep(ctx, mini);
      stats.loss += r.loss;
      stats.kl += r.kl;
      stats.entropy += r.entropy;
      stats.clip += r.clipRatio;
      stats.n++;
      stats.lr = r.lr;
      for (const [k, v] of Object.entries(r.policyStats)) policyStats[k] = (policyStats[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.critic ?? {})) joint[k] = (joint[k] ?? 0) + v;
      if (r.skipped) stats.skipped++;
      else {
        stats.steps++;
        stats.grad += r.gradNorm;
      }
    }
  }
  const n = Math.max(stats.n, 1);
  for (const k of Object.keys(policyStats)) policyStats[k] /= n;
  for (const k of Object.keys(joint)) joint[k] /= n;
  return {
    loss: stats.loss / n,
    kl: stats.kl / n,
    entropy: stats.entropy / n,
    clipRatio: stats.clip / n,
    policyStats,
    gradNorm: stats.steps ? stats.grad / stats.steps : NaN,
    lr: stats.lr,
    steps: stats.steps,
    skipped: stats.skipped,
    critic: criticStats ?? (critic ? joint : undefined),
  };
}

/** One mini-batch's figures: a step's, with whether its optimizer step was skipped instead of counts. */
type MiniBatchResult = Omit<UpdateResult, 'steps' | 'skipped'> & { skipped: boolean };

/** One optimizer step: the mini-batch's micro-batches forward and backward, their loss terms summed, then AdamW. */
function miniBatchStep(ctx: UpdateContext, mini: UpdateSequence[]): MiniBatchResult {
  const { plan } = ctx;
  const { mask, normalizer } = miniBatchMask(plan.algorithm, mini);
  const groupIds = [...new Set(mini.map((s) => s.group))];
  const policyLoss = policyLosses.get(plan.algorithm.loss);
  // a critic with steps of its own trained before the policy's update (criticUpdate); else its loss joins this backward
  const critic = plan.critic && !plan.critic.ownPass ? plan.critic.settings : undefined;
  const totals = new MiniBatchTotals(mini.length);
  let finite = true;
  for (const idx of microBatches(mini, groupIds, plan.passes, policyLoss)) {
    const { pass, mb } = forwardMicroBatch(ctx, mini, idx, { mask: mask && idx.map((i) => mask[i]), normalizer });
    const terms: MicroBatchTerms = {
      policy: policyTerm(plan, policyLoss, mb),
      kl: klTerm(plan, mb),
      value: valueTerm(critic, plan, mb),
      entropy: entropyTerm(plan, mb),
    };
    const total = sumTerms([terms.policy, terms.kl, terms.value, terms.entropy]);
    totals.add(total.loss, terms, mb.part.length);
    // any non-finite coefficient (policy, critic or entropy term) skips the whole update rather than ending the run
    if (!total.finite || !Number.isFinite(totals.loss)) {
      finite = false;
      break;
    }
    pass.backward({ logp: total.dlogp, values: total.dvalues, entropy: total.dentropy });
  }
  const step = optimizerStep(ctx, critic !== undefined, finite);
  if (!finite)
    return {
      loss: NaN,
      kl: NaN,
      entropy: NaN,
      clipRatio: NaN,
      policyStats: {},
      gradNorm: NaN,
      lr: step.lr,
      skipped: true,
    };
  return {
    ...totals.means(),
    gradNorm: step.gradNorm,
    lr: step.lr,
    skipped: step.skipped,
    critic: critic ? { value_loss: totals.valueLoss, value_clip_ratio: totals.valueClip, ...step.critic } : undefined,
  };
}

/**
 * The forward of one micro-batch (whose mask is already cut from the mini-batch's) and the batch its loss terms
 * read. Entropy is always computed: it is logged (TRL `entropy`) and cheap next to the matmuls; its backward only
 * with a bonus.
 */
function forwardMicroBatch(
  ctx: UpdateContext,
  mini: UpdateSequence[],
  idx: number[],
  masking: Pick<MicroBatch, 'mask' | 'normalizer'>,
): { pass: ForwardPass; mb: MicroBatch } {
  const { model, plan } = ctx;
  const part = idx.map((i) => mini[i]);
  const pass = model.forward(
    part.map((s) => s.tokens),
    {
      grad: true,
      entropy: true,
      entropyGrad: plan.algorithm.entropy_coef !== 0,
      temperature: plan.logprobTemperature,
      logprobsFrom: completionFrom(part),
    },
  );
  const ids = [...new Set(part.map((s) => s.group))];
  const mb: MicroBatch = {
    part,
    logp: pass.logp.map((row) => Array.from(row)),
    values: pass.values?.map((row) => Array.from(row)),
    entropy: pass.entropy!.map((row) => Array.from(row)),
    ...masking,
    groupSizes: ids.map((id) => part.filter((s) => s.group === id).length),
    miniSequences: mini.length,
  };
  return { pass, mb };
}

/** The loss terms of one micro-batch (loss-terms.ts). */
interface MicroBatchTerms {
  policy: LossTerm;
  kl: LossTerm | null;
  value: LossTerm | null;
  entropy: LossTerm;
}

/**
 * What a mini-batch's micro-batches add up to: the loss; clip_ratio and the loss's own statistics
 * sequence-weighted, the KL and entropy token-weighted; the critic's value loss and clip ratio when it trains here.
 */
class MiniBatchTotals {
  loss = 0;
  kl = 0;
  klTokens = 0;
  entropy = 0;
  entropyTokens = 0;
  clip = 0;
  clipN = 0;
  valueLoss = 0;
  valueClip = 0;
  readonly policyStats: Record<string, number> = {};

  constructor(private readonly miniSequences: number) {}

  add(loss: number, terms: MicroBatchTerms, sequences: number): void {
    const { policy, kl, value, entropy } = terms;
    this.loss += loss;
    this.clip += (policy.stats.clip_ratio ?? 0) * sequences;
    this.clipN += sequences;
    for (const [k, v] of Object.entries(policy.stats))
      this.policyStats[k] = (this.policyStats[k] ?? 0) + (v * sequences) / this.miniSequences;
    if (kl) {
      this.kl += kl.stats.kl * kl.stats.kl_tokens;
      this.klTokens += kl.stats.kl_tokens;
    }
    if (value) {
      this.valueLoss += value.stats.value_loss;
      this.valueClip += (value.stats.value_clip_ratio * sequences) / this.miniSequences;
    }
    this.entropy += entropy.stats.entropy_sum;
    this.entropyTokens += entropy.stats.entropy_tokens;
  }

  means(): Pick<MiniBatchResult, 'loss' | 'kl' | 'entropy' | 'clipRatio' | 'policyStats'> {
    return {
      loss: this.loss,
      kl: this.klTokens ? this.kl / this.klTokens : 0,
      entropy: this.entropyTokens ? this.entropy / this.entropyTokens : 0,
      clipRatio: this.clipN ? this.clip / this.clipN : 0,
      policyStats: this.policyStats,
    };
  }
}

/** The optimizer step that ends a mini-batch: its learning rate, whether it was skipped, the policy's norm. */
interface OptimizerStepResult {
  lr: number;
  skipped: boolean;
  gradNorm: number;
  /** a critic in its own group that trained in this backward: its norm and lr */
  critic?: { grad_norm: number; lr: number };
}

/**
 * One AdamW step on the policy's group(s) — with a critic group, the policy's alone when the critic steps on its
 * own, else both, each at its lr — or, after a non-finite micro-batch, the gradients dropped.
 */
function optimizerStep(ctx: UpdateContext, criticJoins: boolean, finite: boolean): OptimizerStepResult {
  const { plan } = ctx;
  const opt = ctx.model.optimizer;
  const lr = learningRateAt(opt.stepCount, plan.schedule);
  const grouped = plan.critic?.group != null;
  const groups = grouped
    ? criticJoins
      ? opt.groupNames
      : opt.groupNames.filter((g) => g !== CRITIC_GROUP)
    : undefined;
  if (!finite) {
    opt.zeroGrad(groups);
    return { lr, skipped: true, gradNorm: NaN };
  }
  const criticLr =
    grouped && criticJoins ? learningRateAt(opt.groupStepCount(CRITIC_GROUP), plan.critic!.schedule!) : undefined;
  const lrs = groups ? Object.fromEntries(groups.map((g) => [g, g === CRITIC_GROUP ? criticLr! : lr])) : lr;
  const step = opt.step({ lr: lrs, maxGradNorm: plan.maxGradNorm, groups });
  // the policy's own norm when the critic is clipped apart (as two optimizers would each report theirs)
  const policyNorm = grouped
    ? Math.sqrt(Object.entries(step.groupNorms).reduce((t, [g, n]) => t + (g === CRITIC_GROUP ? 0 : n * n), 0))
    : step.gradNorm;
  return {
    lr,
    skipped: step.skipped,
    gradNorm: policyNorm,
    critic: grouped && criticJoins ? { grad_norm: step.groupNorms[CRITIC_GROUP], lr: criticLr! } : undefined,
  };
}
