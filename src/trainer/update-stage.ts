/**
 * The policy update of one step: `num_iterations` epochs over the rollout batch, each split into
 * `mini_batches` optimizer steps, each accumulated over micro-batches of whole groups. For every micro-batch:
 * forward (log-probs, values, entropy) → loss and per-token gradients from src/algorithms → backward of
 * Σ g·logp + Σ h·V + Σ e·H → and after the last micro-batch, one AdamW step.
 * Aggregation normalisers are counted over the whole mini-batch, so micro-batching never changes the update.
 */
import {
  advantageEstimators, aggregationNormalizer, aggregationWeights, klLoss, multiplyRagged, overlongFilterMask, policyLosses, sumLosses, valueLoss,
  type LossResult, type PolicyLoss, type PolicyLossBatch, type Ragged,
} from '../algorithms/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { learningRateAt, type LrSchedule } from '../engine/schedule.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import type { TrainConfig } from './config/schema.ts';

/** One completion prepared for the update. */
export interface UpdateSequence {
  tokens: number[];
  promptLength: number;
  group: number;
  oldLogp: number[];
  advantages: number[];
  reward: number;
  /** the run's correctness reward says it is right; absent when no reward decides it */
  correct?: boolean;
  truncated: boolean;
  refLogp?: number[];
  oldValues?: number[];
  returns?: number[];
  /** per-token importance weight correcting rollout-engine / trainer mismatch (TIS / MIS) */
  weights?: number[];
  /** multi-turn episodes: 0 on tokens the environment inserted, which leave every loss term and its counts */
  sampledMask?: number[];
}

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
}

export interface UpdateContext {
  model: LlamaModel;
  config: TrainConfig;
  algorithm: ResolvedAlgorithm;
  schedule: LrSchedule;
}

export function policyUpdate(ctx: UpdateContext, seqs: UpdateSequence[]): UpdateResult {
  const a = ctx.algorithm;
  const groups = [...new Set(seqs.map((s) => s.group))];
  const perMini = Math.ceil(groups.length / a.mini_batches);
  const stats = { loss: 0, kl: 0, entropy: 0, clip: 0, grad: 0, n: 0, steps: 0, skipped: 0, lr: 0 };
  const policyStats: Record<string, number> = {};
  for (let epoch = 0; epoch < a.num_iterations; epoch++) {
    for (let m = 0; m < groups.length; m += perMini) {
      const mine = new Set(groups.slice(m, m + perMini));
      const mini = seqs.filter((s) => mine.has(s.group));
      const r = miniBatchStep(ctx, mini);
      stats.loss += r.loss; stats.kl += r.kl; stats.entropy += r.entropy; stats.clip += r.clipRatio; stats.n++; stats.lr = r.lr;
      for (const [k, v] of Object.entries(r.policyStats)) policyStats[k] = (policyStats[k] ?? 0) + v;
      if (r.skipped) stats.skipped++;
      else { stats.steps++; stats.grad += r.gradNorm; }
    }
  }
  const n = Math.max(stats.n, 1);
  for (const k of Object.keys(policyStats)) policyStats[k] /= n;
  return { loss: stats.loss / n, kl: stats.kl / n, entropy: stats.entropy / n, clipRatio: stats.clip / n, policyStats, gradNorm: stats.steps ? stats.grad / stats.steps : NaN, lr: stats.lr, steps: stats.steps, skipped: stats.skipped };
}

/**
 * Indices of each micro-batch: whole groups (`micro_batch_groups`), or — for the losses whose sequences are
 * independent given their advantages (PPO clip, GSPO) — at most `micro_batch_sequences` sequences, which bounds
 * the [vocabulary × tokens] memory of the log-prob head for large-vocabulary models.
 */
function microBatches(mini: UpdateSequence[], groupIds: number[], config: TrainConfig, loss: PolicyLoss): number[][] {
  const perSequence = config.training.micro_batch_sequences;
  if (perSequence && !loss.wholeGroups) {
    const out: number[][] = [];
    for (let i = 0; i < mini.length; i += perSequence) out.push(Array.from({ length: Math.min(perSequence, mini.length - i) }, (_, k) => i + k));
    return out;
  }
  const out: number[][] = [];
  const chunk = config.training.micro_batch_groups;
  for (let g = 0; g < groupIds.length; g += chunk) {
    const ids = new Set(groupIds.slice(g, g + chunk));
    out.push(mini.map((s, i) => (ids.has(s.group) ? i : -1)).filter((i) => i >= 0));
  }
  return out;
}

function miniBatchStep(ctx: UpdateContext, mini: UpdateSequence[]): { loss: number; kl: number; entropy: number; clipRatio: number; policyStats: Record<string, number>; gradNorm: number; lr: number; skipped: boolean } {
  const { model, config, algorithm: a } = ctx;
  const lengths = mini.map((s) => s.oldLogp.length);
  const overlong = a.mask_truncated ? overlongFilterMask(mini.map((s) => s.truncated), lengths) : undefined;
  const sampled = mini.some((s) => s.sampledMask) ? mini.map((s) => s.sampledMask ?? s.oldLogp.map(() => 1)) : undefined;
  const mask = overlong && sampled ? multiplyRagged(overlong, sampled) : overlong ?? sampled;
  const normalizer = aggregationNormalizer(lengths, mask);
  const groupIds = [...new Set(mini.map((s) => s.group))];
  const method = policyLosses.get(a.loss);
  const critic = advantageEstimators.get(a.advantage).critic?.(a.advantage_options);
  let loss = 0, kl = 0, klTokens = 0, entropySum = 0, entropyTokens = 0, clipSum = 0, clipN = 0;
  const policyStats: Record<string, number> = {};
  let finite = true;
  for (const idx of microBatches(mini, groupIds, config, method)) {
    const ids = new Set(idx.map((i) => mini[i].group));
    const part = idx.map((i) => mini[i]);
    // entropy is always computed: it is logged (TRL `entropy`) and cheap next to the matmuls
    const pass = model.forward(part.map((s) => s.tokens), { grad: true, entropy: true, temperature: config.rollout.temperature });
    // the completion's tokens are predicted from positions promptLength−1 … len−2
    const logp: Ragged = part.map((s, i) => Array.from(pass.logp[i].subarray(s.promptLength - 1)));
    const partMask = mask ? idx.map((i) => mask[i]) : undefined;
    const groupSizes = [...ids].map((id) => part.filter((s) => s.group === id).length);
    const common = { aggregation: a.aggregation, maxLength: config.rollout.max_tokens };
    const parts: LossResult[] = [microBatchPolicyLoss(method, a.loss_options, {
      logp, oldLogp: part.map((s) => s.oldLogp), advantages: part.map((s) => s.advantages), rewards: part.map((s) => s.reward),
      correct: part.every((s) => s.correct !== undefined) ? part.map((s) => (s.correct ? 1 : 0)) : undefined,
      groupSize: groupSizes, mask: partMask, normalizer, logpDetached: logp, aggregation: a.aggregation, maxLength: config.rollout.max_tokens,
      weights: part[0].weights ? part.map((s) => s.weights!) : undefined,
    }, mini.length)];
    if (a.kl_beta > 0 && a.kl_placement === 'loss') {
      const k = klLoss({ logp, refLogp: part.map((s) => s.refLogp!), kind: a.kl_estimator, beta: a.kl_beta, ...common, normalizer, mask: partMask, logpDetached: logp });
      parts.push(k);
      const n = partMask ? partMask.reduce((s, m) => s + m.reduce((x, y) => x + y, 0), 0) : logp.reduce((s, l) => s + l.length, 0);
      kl += (k.stats?.kl ?? 0) * n; klTokens += n;
    }
    const policy = sumLosses(...parts);
    loss += policy.loss;
    clipSum += (parts[0].stats?.clip_ratio ?? 0) * part.length; clipN += part.length;
    // sequence-weighted over micro-batches, as clip_ratio
    for (const [k, v] of Object.entries(parts[0].stats ?? {})) policyStats[k] = (policyStats[k] ?? 0) + (v * part.length) / mini.length;
    let dvalues: Ragged | undefined;
    if (critic) {
      const values = part.map((s, i) => Array.from(pass.values![i].subarray(s.promptLength - 1)));
      const v = valueLoss({ values, oldValues: part.map((s) => s.oldValues!), returns: part.map((s) => s.returns!), clipRange: critic.clip, ...common, normalizer, mask: partMask });
      loss += critic.coef * v.loss;
      dvalues = v.dvalues.map((row) => row.map((x) => critic.coef * x));
    }
    // entropy bonus −c·agg(H): coefficient −c × the aggregation weight of each token
    let dentropy: Ragged | undefined;
    const ent = part.map((s, i) => pass.entropy![i].subarray(s.promptLength - 1));
    ent.forEach((e, i) => e.forEach((x, t) => { if (!partMask || partMask[i][t] === 1) { entropySum += x; entropyTokens++; } }));
    if (a.entropy_coef !== 0) {
      const w = aggregationWeights(a.aggregation, part.map((s) => s.oldLogp.length), { ...common, normalizer, mask: partMask });
      dentropy = w.map((row) => row.map((x) => -a.entropy_coef * x));
      loss -= a.entropy_coef * w.reduce((s, row, i) => s + row.reduce((t, x, j) => t + x * ent[i][j], 0), 0);
    }
    // any non-finite coefficient (policy, critic or entropy term) skips the whole update rather than ending the run
    if (!Number.isFinite(loss) || ![policy.dlogp, dvalues, dentropy].every((rows) => !rows || rows.every((row) => row.every(Number.isFinite)))) { finite = false; break; }
    // coefficients over each whole sequence: zero on the prompt, the loss gradient on the completion
    const full = (rows: Ragged | undefined) => rows?.map((row, i) => [...new Array(part[i].promptLength - 1).fill(0), ...row]);
    pass.backward({ logp: full(policy.dlogp)!, values: full(dvalues), entropy: full(dentropy) });
  }
  const lr = learningRateAt(model.optimizer.stepCount, ctx.schedule);
  if (!finite) {
    model.optimizer.zeroGrad();
    return { loss: NaN, kl: NaN, entropy: NaN, clipRatio: NaN, policyStats: {}, gradNorm: NaN, lr, skipped: true };
  }
  const step = model.optimizer.step({ lr, maxGradNorm: config.optimizer.max_grad_norm });
  return {
    loss, kl: klTokens ? kl / klTokens : 0, entropy: entropyTokens ? entropySum / entropyTokens : 0,
    clipRatio: clipN ? clipSum / clipN : 0, policyStats, gradNorm: step.gradNorm, lr, skipped: step.skipped,
  };
}

/**
 * One micro-batch's policy loss. A loss normalised within its micro-batch (DisCO, GVPO) counts by its share of the
 * mini-batch's sequences, as the references scale each micro-batch's loss (verl loss_scale_factor: 1/GA for equal
 * micro-batches); the others already count with the mini-batch's normaliser.
 */
export function microBatchPolicyLoss(method: PolicyLoss, options: Record<string, unknown>, batch: PolicyLossBatch, miniBatchSequences: number): LossResult {
  const r = method.loss(batch, options);
  if (method.scale !== 'per-micro-batch') return r;
  const share = batch.logp.length / miniBatchSequences;
  return { ...r, loss: r.loss * share, dlogp: r.dlogp.map((row) => row.map((g) => g * share)) };
}
