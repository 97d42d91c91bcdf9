/** GVPO (docs/methods/gvpo.md): regression of the group-centred implicit reward on the group-centred reward. */
import { z } from 'zod';
import { GrpoError } from '../../errors.ts';
import { gvpoLoss } from '../gvpo.ts';
import { registerPolicyLoss } from '../registry.ts';

registerPolicyLoss({
  name: 'gvpo',
  description: 'MSE between the group-centred implicit reward β·Σ(lp − old) and the group-centred reward (GVPO)',
  options: z.object({ gvpo_beta: z.number().positive().default(0.1).describe('GVPO β of the implicit reward') }),
  wholeGroups: true,
  tokenWeights: false,
  // the reference (verl recipe/gvpo gvpo_dp_actor.py) scales each micro-batch's summed loss by 1/GA
  scale: 'per-micro-batch',
  loss: (b, o) => {
    if (b.weights)
      throw new GrpoError(
        'config',
        "policy loss 'gvpo' takes no per-token weights (rollout_correction); filter with the mask instead",
      );
    return gvpoLoss({
      logp: b.logp,
      oldLogp: b.oldLogp,
      advantages: b.advantages,
      groupSize: b.groupSize,
      beta: o.gvpo_beta,
      mask: b.mask,
      logpDetached: b.logpDetached,
    });
  },
});
