/**
 * The critic's update in a pass of its own (Open-Reasoner-Zero), before the policy's: its value head trained alone
 * on the plain clipped value loss, in mini-batches of shuffled sequences, one step of the critic's optimizer group
 * each. A critic without steps of its own trains in the policy's backward instead (loss-terms.ts valueTerm).
 */
import { valueLoss } from '../algorithms/index.ts';
import { learningRateAt } from '../engine/schedule.ts';
import { Rng } from '../util/rng.ts';
import { shuffled } from '../data/random.ts';
import { CRITIC_GROUP, type Critic } from './run-plan.ts';
import { completionFrom, miniBatchMask, type UpdateContext } from './update-batches.ts';
import type { UpdateSequence } from './update-sequence.ts';

/**
 * The critic's own update, as Open-Reasoner-Zero's CriticRayActor.ppo_train: the rollout batch shuffled and cut into
 * `updateSteps` mini-batches of ⌊n / updateSteps⌋ sequences (a remainder sits out, as ORZ's accumulation loop
 * leaves it), one step of the critic group each, on the plain clipped value loss (ORZ's ValueLoss has no
 * coefficient: the critic is a model of its own). Here the critic is the value head on the policy's trunk, so the
 * pass trains the head alone and leaves the policy as it is.
 */
export function criticUpdate(ctx: UpdateContext, seqs: UpdateSequence[], critic: Critic): Record<string, number> {
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
        { grad: 'value_head', temperature: plan.logprobTemperature, logprobsFrom: completionFrom(part) },
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
