/** DAPO's soft overlong punishment (Eq. 13; docs/methods/dapo.md), added to each completion's reward. */
import { z } from 'zod';
import { softOverlongPunishment } from '../../algorithms/index.ts';
import { registerBatchTransform } from './registry.ts';

registerBatchTransform({
  name: 'soft_overlong',
  description:
    'DAPO soft overlong punishment: 0 up to max_tokens − cache, then a ramp to −1 at max_tokens, added to the reward',
  options: z.object({
    soft_overlong_cache: z
      .number()
      .int()
      .min(-1)
      .describe(
        "DAPO soft overlong punishment buffer in tokens (0: off; −1: 20% of rollout.max_tokens, DAPO's 4096 of 20480)",
      )
      .default(0),
  }),
  active: (o) => o.soft_overlong_cache !== 0,
  resolve: (o, run) => ({
    soft_overlong_cache:
      o.soft_overlong_cache < 0 ? Math.max(1, Math.round(0.2 * run.maxTokens)) : o.soft_overlong_cache,
  }),
  shape: (r, o, run) => ({
    ...r,
    reward: r.reward + softOverlongPunishment(r.completionIds.length, run.maxTokens, o.soft_overlong_cache),
  }),
});
