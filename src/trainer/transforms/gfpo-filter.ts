/**
 * GFPO's filter (docs/methods/gfpo.md; TRL GFPOTrainer): of each sampled group, keep the k shortest completions,
 * or the k with the highest reward per token; k fixed, or adaptive to the prompt's difficulty.
 */
import { z } from 'zod';
import { gfpoAdaptiveK, gfpoSelect } from '../../algorithms/index.ts';
import { GrpoError } from '../../errors.ts';
import { registerBatchTransform } from './registry.ts';

registerBatchTransform({
  name: 'gfpo',
  description: 'GFPO: keep the k shortest (or most token-efficient) completions of each group',
  options: z.object({
    gfpo_keep: z
      .number()
      .int()
      .min(-1)
      .default(0)
      .describe('GFPO: completions kept per group, of group_size (0: off; −1: half of group_size)'),
    gfpo_metric: z
      .enum(['length', 'reward_per_token'])
      .default('length')
      .describe('GFPO: keep the shortest, or the highest reward per token'),
    gfpo_adaptive: z.boolean().default(false).describe('GFPO: choose k per prompt from its difficulty'),
  }),
  active: (o) => o.gfpo_keep !== 0,
  resolve: (o, run) => {
    const keep = o.gfpo_keep < 0 ? Math.max(1, Math.floor(run.groupSize / 2)) : o.gfpo_keep;
    if (run.groupRelative && Math.min(keep, run.groupSize) < 2 && keep > 0) {
      throw new GrpoError(
        'config',
        `algorithm.gfpo_keep ${keep} leaves one completion per prompt, and the method scores each completion against the others of its prompt: ` +
          'every advantage would be 0. Use gfpo_keep ≥ 2, or a method with a batch or learned baseline (reinforce_pp, ppo)',
      );
    }
    return { ...o, gfpo_keep: keep };
  },
  select: (group, o) => {
    const rewards = group.map((r) => r.reward);
    const k = o.gfpo_adaptive
      ? gfpoAdaptiveK(rewards.reduce((s, x) => s + x, 0) / rewards.length, group.length)
      : o.gfpo_keep;
    const { kept } = gfpoSelect({
      rewards,
      lengths: group.map((r) => r.completionIds.length),
      groupSize: group.length,
      k,
      metric: o.gfpo_metric,
    });
    return kept.map((i) => group[i]);
  },
});
