/** DisCO (docs/methods/disco.md): discriminative objective with a squared-hinge KL trust region, no clipping. */
import { z } from 'zod';
import { GrpoError } from '../../errors.ts';
import { discoLoss } from '../disco.ts';
import { registerPolicyLoss } from '../registry.ts';

registerPolicyLoss({
  name: 'disco',
  description: 'discriminative objective (correct answers up, wrong ones down) with a squared-hinge KL trust region (DisCO)',
  options: z.object({
    disco_score: z.enum(['logL', 'Lratio']).default('logL').describe('scoring function: mean log-likelihood or mean likelihood ratio'),
    disco_tau: z.number().positive().default(10).describe('temperature τ of the log-sum-exp over wrong answers (10 for logL, 1 for Lratio)'),
    disco_delta: z.number().nonnegative().default(1e-4).describe('KL trust region δ'),
    disco_beta: z.number().nonnegative().default(1e3).describe('penalty β of the squared hinge'),
    disco_kl: z.enum(['k1', 'k3']).default('k1').describe('KL estimator of the constraint: k1 (verl) or k3 (low_var_kl)'),
    disco_threshold: z.number().default(0.5).describe('a reward above this counts as a correct answer'),
  }),
  wholeGroups: true,
  // the reference (Optimization-AI/DisCO dp_actor.py) scales each micro-batch's loss by its share of the mini-batch
  scale: 'per-micro-batch',
  loss: (b, o) => {
    if (b.weights) throw new GrpoError('config', "policy loss 'disco' takes no per-token weights (rollout_correction); filter with the mask instead");
    return discoLoss({
      logp: b.logp, oldLogp: b.oldLogp, rewards: b.rewards, groupSize: b.groupSize, mask: b.mask,
      score: o.disco_score, tau: o.disco_tau, delta: o.disco_delta, beta: o.disco_beta, klKind: o.disco_kl, positiveThreshold: o.disco_threshold,
    });
  },
});
