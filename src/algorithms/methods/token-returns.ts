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
const std = z.enum(['bessel', 'population']).describe('std of the whitening: Bessel-corrected (verl, OpenRLHF) or population (ORZ)');
const stdKind = (s: 'bessel' | 'population') => (s === 'bessel' ? 'sample' : 'population');

registerAdvantageEstimator({
  name: 'reinforce_pp',
  description: 'discounted return-to-go per token, whitened over the batch (REINFORCE++; verl, OpenRLHF)',
  options: z.object({ gamma, whiten_advantages: whiten.default(true), std: std.default('bessel') }),
  compute: (x, o) => ({ advantages: reinforcePlusPlusAdvantages(x.tokenRewards(), { gamma: o.gamma, whiten: o.whiten_advantages, std: stdKind(o.std) }).advantages }),
});

registerAdvantageEstimator({
  name: 'gae',
  description: 'generalised advantage estimation with a critic value head (PPO; Open-Reasoner-Zero λ = γ = 1)',
  options: z.object({
    gamma,
    lambda: z.number().min(0).max(1).default(1).describe('GAE λ'),
    whiten_advantages: whiten.default(true),
    std: std.default('population'),
    value_coef: z.number().nonnegative().default(0.5).describe('weight of the critic\'s value loss'),
    value_clip: z.number().nonnegative().default(0.2).describe('value clip range of the critic\'s loss'),
  }),
  critic: (o) => ({ coef: o.value_coef, clip: o.value_clip }),
  compute: (x, o) => {
    if (!x.values) throw new Error('gae needs critic values');
    return gaeBatch(x.tokenRewards(), x.values, { gamma: o.gamma, lambda: o.lambda, whiten: o.whiten_advantages ? stdKind(o.std) : false });
  },
});
