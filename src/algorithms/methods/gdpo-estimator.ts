/** GDPO (docs/methods/gdpo.md): each reward normalised in its group, weighted sum, then batch normalisation. */
import { z } from 'zod';
import { gdpoAdvantages } from '../gdpo.ts';
import { broadcastToTokens } from '../ragged.ts';
import { registerAdvantageEstimator } from '../registry.ts';

registerAdvantageEstimator({
  name: 'gdpo',
  description: 'each reward normalised within its group, weighted sum, batch normalisation (GDPO, NVlabs)',
  options: z.object({}),
  groupRelative: true,
  compute: (x) => ({
    advantages: broadcastToTokens(
      gdpoAdvantages(x.rewardsByFunc, x.groupSizes, { weights: x.rewardWeights }),
      x.lengths,
    ),
  }),
});
