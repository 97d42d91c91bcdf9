/**
 * The policy update of one step: `num_iterations` epochs over the rollout batch, each split into
 * `mini_batches` optimizer steps, each accumulated over micro-batches of whole groups. For every micro-batch:
 * forward (log-probs, values, entropy) → loss and per-token gradients from src/algorithms → backward of
 * Σ g·logp + Σ h·V + Σ e·H → and after the last micro-batch, one AdamW step.
 * Aggregation normalisers are counted over the whole mini-batch, so micro-batching never changes the update.
 * A critic with update steps of its own (Open-Reasoner-Zero) trains first, in a pass over its value head alone.
 */
import {
  aggregationNormalizer,
  multiplyRagged,
  overlongFilterMask,
  policyLosses,
  valueLoss,
  type PolicyLoss,
} from '../algorithms/index.ts';
import { entropyTerm, klTerm, policyTerm, sumTerms, valueTerm, type MicroBatch } from './loss-terms.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { learningRateAt } from '../engine/schedule.ts';
import { Rng } from '../util/rng.ts';
import { shuffled } from '../data/random.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import { CRITIC_GROUP, type Critic, type PassSizes, type RunPlan } from './run-plan.ts';
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

export interface UpdateContext {
  model: LlamaModel;
  plan: RunPlan;
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

/** The loss mask of a mini-batch (overlong filter, tokens the environment inserted) and its aggregation normaliser. */
function miniBatchMask(algorithm: ResolvedAlgorithm, mini: UpdateSequence[]) {
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
const completionFrom = (part: { promptLength: number }[]) => part.map((s) => s.promptLength - 1);

/**
 * The critic's own update, as Open-Reasoner-Zero's CriticRayActor.ppo_train: the rollout batch shuffled and cut into
 * `updateSteps` mini-batches of ⌊n / updateSteps⌋ sequences (a remainder sits out, as ORZ's accumulation loop
 * leaves it), one step of the critic group each, on the plain clipped value loss (ORZ's ValueLoss has no
 * coefficient: the critic is a model of its own). Here the critic is the value head on the policy's trunk, so the
 * pass trains the head alone and leaves the policy as it is.
 */
function criticUpdate(ctx: UpdateContext, seqs: UpdateSequence[], critic: Critic): Record<string, number> {
  const { model, plan } = ctx;
  const { algorithm } = plan,
    { updateSteps, clip: clipRange } = critic.settings;
  const opt = model.optimizer;
  // seeded by the run's seed and the critic's step count: the same order again after a resume
  const rng = new Rng((plan.seed ^ Math.imul(opt.groupStepCount(CRITIC_GROUP) + 1, 0x9e3779b1)) >>> 0);
  const order = shuffled(seqs, rng);
  const size = Math.max(1, Math.floor(seqs.length / updateSteps));
  const steps = Math.min(updateSteps, Math.floor(seqs.length / size));
  const perMicro = plan.passes.sequences;
  const out = { value_loss: 0, value_clip_ratio: 0, grad_norm: 0, lr: 0, skipped_updates: 0 };
  let taken = 0;
  for (let k = 0; k < steps; k++) {
    const mini = order.slice(k * size, (k + 1) * size);
    const { mask, normalizer } = miniBatchMask(algorithm, mini);
    let loss = 0,
      clip = 0,
      finite = true;
    for (let i = 0; i < mini.length && finite; i += perMicro) {
      const part = mini.slice(i, i + perMicro);
      const partMask = mask?.slice(i, i + perMicro);
      const pass = model.forward(
        part.map((s) => s.tokens),
        { grad: 'value_head', temperature: plan.scoringTemperature, scoreFrom: completionFrom(part) },
      );
      const v = valueLoss({
        values: pass.values!.map((row) => Array.from(row)),
        oldValues: part.map((s) => s.oldValues!),
        returns: part.map((s) => s.returns!),
        clipRange,
        aggregation: algorithm.aggregation,
        maxLength: plan.sampling.maxTokens,
        normalizer,
        mask: partMask,
      });
      loss += v.loss;
      clip += (v.stats.value_clip_ratio * part.length) / mini.length;
      finite = Number.isFinite(v.loss) && v.dvalues.every((row) => row.every(Number.isFinite));
      if (finite) pass.backward({ values: v.dvalues });
    }
    const lr = learningRateAt(opt.groupStepCount(CRITIC_GROUP), critic.schedule!);
    out.lr = lr;
    const r = finite
      ? opt.step({ lr: { [CRITIC_GROUP]: lr }, maxGradNorm: plan.maxGradNorm, groups: [CRITIC_GROUP] })
      : null;
    if (!r || r.skipped) {
      opt.zeroGrad([CRITIC_GROUP]);
      out.skipped_updates++;
      continue;
    }
    taken++;
    out.value_loss += loss;
    out.value_clip_ratio += clip;
    out.grad_norm += r.gradNorm;
  }
  for (const key of ['value_loss', 'value_clip_ratio', 'grad_norm'] as const) out[key] = taken ? out[key] / taken : NaN;
  return { ...out, optimizer_step: opt.groupStepCount(CRITIC_GROUP) };
}

/**
 * Indices of each micro-batch: whole groups (`micro_batch_groups`), or — for the losses whose sequences are
 * independent given their advantages (PPO clip, GSPO) — at most `micro_batch_sequences` sequences, which bounds
 * the [vocabulary × tokens] memory of the log-prob head for large-vocabulary models.
 */
function microBatches(mini: UpdateSequence[], groupIds: number[], passes: PassSizes, loss: PolicyLoss): number[][] {
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

interface MiniBatchResult {
  loss: number;
  kl: number;
  entropy: number;
  clipRatio: number;
  policyStats: Record<string, number>;
  gradNorm: number;
  lr: number;
  skipped: boolean;
  critic?: Record<string, number>;
}

function miniBatchStep(ctx: UpdateContext, mini: UpdateSequence[]): MiniBatchResult {
  const { model, plan } = ctx;
  const { algorithm } = plan;
  const { mask, normalizer } = miniBatchMask(algorithm, mini);
  const groupIds = [...new Set(mini.map((s) => s.group))];
  const policyLoss = policyLosses.get(algorithm.loss);
  // a critic with steps of its own trained before the policy's update (criticUpdate); else its loss joins this backward
  const critic = plan.critic && !plan.critic.ownPass ? plan.critic.settings : undefined;
  const sums = {
    loss: 0,
    kl: 0,
    klTokens: 0,
    entropy: 0,
    entropyTokens: 0,
    clip: 0,
    clipN: 0,
    valueLoss: 0,
    valueClip: 0,
  };
  const policyStats: Record<string, number> = {};
  let finite = true;
  for (const idx of microBatches(mini, groupIds, plan.passes, policyLoss)) {
    const part = idx.map((i) => mini[i]);
    // entropy is always computed: it is logged (TRL `entropy`) and cheap next to the matmuls; its backward only with a bonus
    const pass = model.forward(
      part.map((s) => s.tokens),
      {
        grad: true,
        entropy: true,
        entropyGrad: algorithm.entropy_coef !== 0,
        temperature: plan.scoringTemperature,
        scoreFrom: completionFrom(part),
      },
    );
    const ids = [...new Set(part.map((s) => s.group))];
    const mb: MicroBatch = {
      part,
      logp: pass.logp.map((row) => Array.from(row)),
      values: pass.values?.map((row) => Array.from(row)),
      entropy: pass.entropy!.map((row) => Array.from(row)),
      mask: mask ? idx.map((i) => mask[i]) : undefined,
      normalizer,
      groupSizes: ids.map((id) => part.filter((s) => s.group === id).length),
      miniSequences: mini.length,
    };
    const policy = policyTerm(plan, policyLoss, mb),
      kl = klTerm(plan, mb),
      value = valueTerm(critic, plan, mb),
      entropy = entropyTerm(plan, mb);
    const total = sumTerms([policy, kl, value, entropy]);
    sums.loss += total.loss;
    // clip_ratio and the loss's own statistics are sequence-weighted over micro-batches; the KL and entropy token-weighted
    sums.clip += (policy.stats.clip_ratio ?? 0) * part.length;
    sums.clipN += part.length;
    for (const [k, v] of Object.entries(policy.stats))
      policyStats[k] = (policyStats[k] ?? 0) + (v * part.length) / mini.length;
    if (kl) {
      sums.kl += kl.stats.kl * kl.stats.kl_tokens;
      sums.klTokens += kl.stats.kl_tokens;
    }
    if (value) {
      sums.valueLoss += value.stats.value_loss;
      sums.valueClip += (value.stats.value_clip_ratio * part.length) / mini.length;
    }
    sums.entropy += entropy.stats.entropy_sum;
    sums.entropyTokens += entropy.stats.entropy_tokens;
    // any non-finite coefficient (policy, critic or entropy term) skips the whole update rather than ending the run
    if (!total.finite || !Number.isFinite(sums.loss)) {
      finite = false;
      break;
    }
    pass.backward({ logp: total.dlogp, values: total.dvalues, entropy: total.dentropy });
  }
  const opt = model.optimizer;
  const lr = learningRateAt(opt.stepCount, plan.schedule);
  // the policy's group(s): with a critic group, the policy's alone when the critic steps on its own, else both, each at its lr
  const grouped = plan.critic?.group != null;
  const groups = grouped ? (critic ? opt.groupNames : opt.groupNames.filter((g) => g !== CRITIC_GROUP)) : undefined;
  if (!finite) {
    opt.zeroGrad(groups);
    return { loss: NaN, kl: NaN, entropy: NaN, clipRatio: NaN, policyStats: {}, gradNorm: NaN, lr, skipped: true };
  }
  const criticLr =
    grouped && critic ? learningRateAt(opt.groupStepCount(CRITIC_GROUP), plan.critic!.schedule!) : undefined;
  const lrs = groups ? Object.fromEntries(groups.map((g) => [g, g === CRITIC_GROUP ? criticLr! : lr])) : lr;
  const step = opt.step({ lr: lrs, maxGradNorm: plan.maxGradNorm, groups });
  // the policy's own norm when the critic is clipped apart (as two optimizers would each report theirs)
  const policyNorm = grouped
    ? Math.sqrt(Object.entries(step.groupNorms).reduce((t, [g, n]) => t + (g === CRITIC_GROUP ? 0 : n * n), 0))
    : step.gradNorm;
  const criticStats = critic
    ? {
        value_loss: sums.valueLoss,
        value_clip_ratio: sums.valueClip,
        ...(grouped ? { grad_norm: step.groupNorms[CRITIC_GROUP], lr: criticLr! } : {}),
      }
    : undefined;
  return {
    loss: sums.loss,
    kl: sums.klTokens ? sums.kl / sums.klTokens : 0,
    entropy: sums.entropyTokens ? sums.entropy / sums.entropyTokens : 0,
    clipRatio: sums.clipN ? sums.clip / sums.clipN : 0,
    policyStats,
    gradNorm: policyNorm,
    lr,
    skipped: step.skipped,
    critic: criticStats,
  };
}
