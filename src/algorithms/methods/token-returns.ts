/**
 * Estimators over per-token rewards (the outcome on the last token, the KL penalty on every token when it is in the
 * reward): REINFORCE++ returns (docs/methods/reinforce_pp.md) and GAE with a critic (docs/methods/ppo.md).
 */
import { z } from 'zod';
import { gaeBatch } from '../gae.ts';
import { reinforcePlusPlusAdvantages } from '../advantages.ts';
import { registerAdvantageEstimator } from '../registry.ts';

const gamma = z.number().min(0).max(1).default(1).describe('discount γ');
const whiten = z.boolean().describe('whiten advantages over every token of the batch');
const std = z
  .enum(['bessel', 'population'])
  .describe(
    'std of the whitening: Bessel-corrected, 1/sqrt(var + 1e-8) (verl), or population, rsqrt(max(var, 1e-8)) (ORZ, OpenRLHF)',
  );
/** weight of a value loss trained in the policy's backward (the common PPO vf_coef, e.g. CleanRL) */
const DEFAULT_VALUE_COEF = 0.5;
const stdKind = (s: 'bessel' | 'population') => (s === 'bessel' ? 'sample' : 'population');

registerAdvantageEstimator({
  name: 'reinforce_pp',
  description: 'discounted return-to-go per token, whitened over the batch (REINFORCE++; verl, OpenRLHF)',
  options: z.object({ gamma, whiten_advantages: whiten.default(true), std: std.default('bessel') }),
  compute: (x, o) => ({
    advantages: reinforcePlusPlusAdvantages(x.tokenRewards(), {
      gamma: o.gamma,
      whiten: o.whiten_advantages,
      std: stdKind(o.std),
    }).advantages,
  }),
});

registerAdvantageEstimator({
  name: 'gae',
  description: 'generalised advantage estimation with a critic value head (PPO; Open-Reasoner-Zero λ = γ = 1)',
  options: z
    .object({
      gamma,
      lambda: z.number().min(0).max(1).default(1).describe('GAE λ'),
      whiten_advantages: whiten.default(true),
      std: std.default('population'),
      value_coef: z
        .number()
        .nonnegative()
        .optional()
        .describe(
          `weight of the value loss in the policy's backward, when the critic trains there (critic_update_steps 0); default ${DEFAULT_VALUE_COEF}`,
        ),
      value_clip: z.number().nonnegative().default(0.2).describe("value clip range of the critic's loss"),
      critic_lr: z
        .number()
        .nonnegative()
        .optional()
        .describe(
          'learning rate of the value head, warm-up and schedule counted in its own steps (ORZ critic_learning_rate); default: optimizer.lr',
        ),
      critic_update_steps: z
        .number()
        .int()
        .nonnegative()
        .default(0)
        .describe(
          "critic optimizer steps per rollout batch, in a pass of its own over the value head (ORZ critic_update_steps); 0: it trains in the policy's backward",
        ),
    })
    .refine((o) => o.value_coef === undefined || o.critic_update_steps === 0, {
      path: ['value_coef'],
      message:
        "weighs the value loss in the policy's backward; with critic_update_steps > 0 the critic trains in its own pass on the plain value loss (as Open-Reasoner-Zero's critic): leave value_coef out, or set critic_update_steps 0",
    }),
  // ORZ / OpenRLHF: the critic is a model of its own with its own optimizer (lr, steps, clipping)
  critic: (o) => ({
    coef: o.value_coef ?? DEFAULT_VALUE_COEF,
    clip: o.value_clip,
    lr: o.critic_lr,
    updateSteps: o.critic_update_steps,
  }),
  compute: (x, o) => {
    if (!x.values) throw new Error('gae needs critic values');
    return gaeBatch(x.tokenRewards(), x.values, {
      gamma: o.gamma,
      lambda: o.lambda,
      whiten: o.whiten_advantages ? stdKind(o.std) : false,
    });
  },
});
