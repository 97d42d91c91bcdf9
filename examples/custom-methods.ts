// Your own reward, advantage estimator and policy loss, registered from TypeScript and selected by name in YAML.
import { z } from 'zod';
import { broadcastToTokens, registerAdvantageEstimator, registerPolicyLoss, registerReward } from 'grpo-ts';

// rewards: [{ type: vowels, options: { letters: aeiou } }]
registerReward({
  name: 'vowels',
  description: "share of the completion's characters that are vowels",
  options: z.object({ letters: z.string().default('aeiou') }),
  build: (o) => ({
    fn: (completion) => [...completion].filter((c) => o.letters.includes(c)).length / Math.max(1, completion.length),
  }),
});

// algorithm: { advantage: median_baseline }
registerAdvantageEstimator({
  name: 'median_baseline',
  description: 'r − the median reward of the group (a baseline robust to outliers)',
  options: z.object({}),
  groupRelative: true,
  compute: (x) => {
    let start = 0;
    const adv = x.groupSizes.flatMap((n) => {
      const group = x.rewards.slice(start, (start += n));
      const sorted = [...group].sort((a, b) => a - b);
      const median = (sorted[(n - 1) >> 1] + sorted[n >> 1]) / 2;
      return group.map((r) => r - median);
    });
    return { advantages: broadcastToTokens(adv, x.lengths) };
  },
});

// algorithm: { loss: vanilla_pg, pg_scale: 1 }
registerPolicyLoss({
  name: 'vanilla_pg',
  description: 'on-policy policy gradient −A·logp, averaged over tokens (no ratio, no clipping)',
  options: z.object({ pg_scale: z.number().positive().default(1) }),
  loss: (b, o) => {
    const adv = broadcastToTokens(
      b.advantages,
      b.logp.map((row) => row.length),
    );
    const n = b.normalizer?.tokens ?? b.logp.flat().length; // the mini-batch's token count
    const dlogp = adv.map((row) => row.map((a) => (-o.pg_scale * a) / n));
    return { loss: dlogp.flat().reduce((s, g, k) => s + g * b.logp.flat()[k], 0), dlogp };
  },
});
