/**
 * Outcome estimators with a group baseline (docs/methods/grpo.md, dr_grpo.md, rloo.md): one advantage per
 * completion from the rewards of its group, broadcast over its tokens.
 */
import { z } from 'zod';
import { groupAdvantages, reinforceBaselineReturnsToGo, type OutcomeEstimator } from '../advantages.ts';
import { broadcastToTokens } from '../ragged.ts';
import { GrpoError } from '../../errors.ts';
import { registerAdvantageEstimator, type AdvantageInput } from '../registry.ts';

const std = z
  .enum(['bessel', 'population'])
  .describe('std of the rewards: Bessel-corrected (TRL, verl) or population (ORZ)');
const advEps = z.number().nonnegative().describe('epsilon added to the std (verl 1e-6; TRL 1e-4)');
const scale = z
  .enum(['group', 'batch', 'none'])
  .describe('divide centred rewards by the group std, the batch std, or nothing');

function outcome(
  estimator: OutcomeEstimator,
  x: AdvantageInput,
  o: { scale_rewards?: 'group' | 'batch' | 'none'; std: 'bessel' | 'population'; adv_eps: number },
) {
  const perSequence = groupAdvantages(x.rewards, x.groupSizes, {
    estimator,
    scale: o.scale_rewards ?? 'none',
    eps: o.adv_eps,
    std: o.std === 'bessel' ? 'sample' : 'population',
    lengths: x.lengths,
  });
  return { advantages: broadcastToTokens(perSequence, x.lengths) };
}

/** An estimator whose centred rewards may be scaled, with its reference's default scaling and epsilon. */
function scaledOutcome(
  name: OutcomeEstimator,
  description: string,
  scaleDefault: 'group' | 'batch' | 'none',
  epsDefault: number,
) {
  registerAdvantageEstimator({
    name,
    description,
    groupRelative: true,
    options: z.object({
      scale_rewards: scale.default(scaleDefault),
      std: std.default('bessel'),
      adv_eps: advEps.default(epsDefault),
    }),
    compute: (x, o) => outcome(name, x, o),
  });
}

scaledOutcome('grpo', '(r − mean of the group) / (std of the group + ε) (DeepSeekMath §4.1.2)', 'group', 1e-6);
scaledOutcome(
  'rloo',
  'r − mean of the other completions of the group (leave-one-out; TRL RLOOTrainer, verl rloo)',
  'none',
  1e-6,
);
registerAdvantageEstimator({
  name: 'reinforce_baseline',
  description: 'r − mean of the group, whitened over the batch (REINFORCE++-baseline; verl, OpenRLHF)',
  groupRelative: true,
  options: z.object({
    scale_rewards: scale.default('batch'),
    std: std.default('bessel'),
    adv_eps: z
      .number()
      .nonnegative()
      .default(1e-8)
      .describe(
        "epsilon of the batch whitening (inside the sqrt for Bessel's std, a variance floor for the population's)",
      ),
    kl_returns: z
      .enum(['summed', 'to_go'])
      .default('summed')
      .describe(
        'with the KL in the reward: summed into each score before the group baseline (verl), or per-token returns-to-go after it (OpenRLHF)',
      ),
  }),
  compute: (x, o) => {
    if (o.kl_returns === 'summed') return outcome('reinforce_baseline', x, o);
    if (o.scale_rewards === 'group')
      throw new GrpoError(
        'config',
        "reinforce_baseline: kl_returns 'to_go' whitens over the batch ('batch') or not at all ('none'); scale_rewards 'group' is not one of them",
      );
    return reinforceBaselineReturnsToGo(x.tokenRewards(), x.outcomeRewards ?? x.rewards, x.groupSizes, {
      gamma: 1,
      whiten: o.scale_rewards === 'batch',
      eps: o.adv_eps,
      std: o.std === 'bessel' ? 'sample' : 'population',
    });
  },
});

registerAdvantageEstimator({
  name: 'dr_grpo',
  description: 'r − mean of the group, no std scaling (Dr. GRPO, understand-r1-zero)',
  options: z.object({}),
  groupRelative: true,
  compute: (x) => outcome('dr_grpo', x, { std: 'bessel', adv_eps: 0 }),
});

registerAdvantageEstimator({
  name: 'none',
  description: 'no advantages (losses that read the rewards themselves: DisCO)',
  options: z.object({}),
  compute: (x) => ({ advantages: x.lengths.map((n) => new Array<number>(n).fill(0)) }),
});
