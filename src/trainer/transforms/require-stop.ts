/**
 * Open-Reasoner-Zero's custom_reward_fn: "only correct and stopped response can acquire reward". A completion cut
 * at rollout.max_tokens scores 0 on every reward, its episode's per-turn rewards included (docs/methods/ppo.md).
 */
import { z } from 'zod';
import { registerBatchTransform } from './registry.ts';

registerBatchTransform({
  name: 'require_stop',
  description: 'a completion cut at rollout.max_tokens (no stop) scores 0 on every reward (Open-Reasoner-Zero)',
  options: z.object({
    require_stop: z
      .boolean()
      .default(false)
      .describe('a completion cut at rollout.max_tokens (no stop) scores 0 on every reward (Open-Reasoner-Zero)'),
  }),
  active: (o) => o.require_stop,
  shape: (r) =>
    r.finishReason !== 'length'
      ? r
      : {
          ...r,
          reward: 0,
          rewards: Object.fromEntries(Object.keys(r.rewards).map((n) => [n, 0])),
          // an unstopped episode's per-turn rewards go too, so no token of it is rewarded
          episode: r.episode ? { ...r.episode, turnRewards: [] } : undefined,
        },
});
