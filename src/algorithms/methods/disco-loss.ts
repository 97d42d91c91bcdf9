/** DisCO (docs/methods/disco.md): discriminative objective with a squared-hinge KL trust region, no clipping. */
import { z } from 'zod';
import { GrpoError } from '../../errors.ts';
import { discoLoss } from '../disco.ts';
import { registerPolicyLoss } from '../registry.ts';

registerPolicyLoss({
  name: 'disco',
  description:
    'discriminative objective (correct answers up, wrong ones down) with a squared-hinge KL trust region (DisCO)',
  options: z.object({
    disco_score: z
      .enum(['logL', 'Lratio'])
      .default('logL')
      .describe('scoring function: mean log-likelihood or mean likelihood ratio'),
    disco_tau: z
      .number()
      .positive()
      .default(10)
      .describe('temperature τ of the log-sum-exp over wrong answers (10 for logL, 1 for Lratio)'),
    disco_delta: z.number().nonnegative().default(1e-4).describe('KL trust region δ'),
    disco_beta: z.number().nonnegative().default(1e3).describe('penalty β of the squared hinge'),
    disco_kl: z
      .enum(['k1', 'k3'])
      .default('k1')
      .describe('KL estimator of the constraint: k1 (verl) or k3 (low_var_kl)'),
    disco_metric: z
      .enum(['accuracy', 'reward'])
      .default('accuracy')
      .describe(
        "what makes an answer right: the correctness reward (the reference's binary reward) or the summed reward above disco_threshold",
      ),
    disco_threshold: z
      .number()
      .default(0.5)
      .describe('with disco_metric: reward, a summed reward above this counts as a correct answer'),
  }),
  wholeGroups: true,
  tokenWeights: false,
  // the reference (Optimization-AI/DisCO dp_actor.py) scales each micro-batch's loss by its share of the mini-batch
  scale: 'per-micro-batch',
  needsCorrectness: (o) =>
    o.disco_metric === 'accuracy'
      ? 'set algorithm.disco_metric: reward to split on the summed reward (above disco_threshold)'
      : undefined,
  loss: (b, o) => {
    if (b.weights)
      throw new GrpoError(
        'config',
        "policy loss 'disco' takes no per-token weights (rollout_correction); filter with the mask instead",
      );
    // the reference splits on its binary correctness reward (Optimization-AI/DisCO core_algos.py: pos = rewards == 1, neg = rewards == 0)
    if (o.disco_metric === 'accuracy' && !b.correct) {
      throw new GrpoError(
        'config',
        "policy loss 'disco' splits answers by correctness, but the batch has none (no reward of the run decides it); set algorithm.disco_metric: reward to split on the summed reward",
      );
    }
    const split =
      o.disco_metric === 'accuracy'
        ? { rewards: b.correct! }
        : { rewards: b.rewards, positiveThreshold: o.disco_threshold };
    return discoLoss({
      logp: b.logp,
      oldLogp: b.oldLogp,
      groupSize: b.groupSize,
      mask: b.mask,
      ...split,
      score: o.disco_score,
      tau: o.disco_tau,
      delta: o.disco_delta,
      beta: o.disco_beta,
      klKind: o.disco_kl,
    });
  },
});
