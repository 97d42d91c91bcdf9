/**
 * Outcome estimators with a group baseline (docs/methods/grpo.md, dr_grpo.md, rloo.md): one advantage per
 * completion from the rewards of its group, broadcast over its tokens.
 */
import { z } from 'zod';
import { groupAdvantages, type OutcomeEstimator } from '../advantages.ts';
import { broadcastToTokens } from '../ragged.ts';
import { registerAdvantageEstimator, type AdvantageInput } from '../registry.ts';

const std = z.enum(['bessel', 'population']).describe('std of the rewards: Bessel-corrected (TRL, verl) or population (ORZ)');
const advEps = z.number().nonnegative().describe('epsilon added to the std (verl 1e-6; TRL 1e-4)');
const scale = z.enum(['group', 'batch', 'none']).describe('divide centred rewards by the group std, the batch std, or nothing');

function outcome(estimator: OutcomeEstimator, x: AdvantageInput, o: { scale_rewards?: 'group' | 'batch' | 'none'; std: 'bessel' | 'population'; adv_eps: number }) {
  const perSequence = groupAdvantages(x.rewards, x.groupSizes, {
    estimator, scale: o.scale_rewards ?? 'none', eps: o.adv_eps, std: o.std === 'bessel' ? 'sample' : 'population', lengths: x.lengths,
  });
  return { advantages: broadcastToTokens(perSequence, x.lengths) };
}

/** An estimator whose centred rewards may be scaled, with its reference's default scaling and epsilon. */
function scaledOutcome(name: OutcomeEstimator, description: string, scaleDefault: 'group' | 'batch' | 'none', epsDefault: number) {
  registerAdvantageEstimator({
    name, description, groupRelative: true,
    options: z.object({ scale_rewards: scale.default(scaleDefault), std: std.default('bessel'), adv_eps: advEps.default(epsDefault) }),
    compute: (x, o) => outcome(name, x, o),
  });
}

scaledOutcome('grpo', '(r − mean of the group) / (std of the group + ε) (DeepSeekMath §4.1.2)', 'group', 1e-6);
scaledOutcome('rloo', 'r − mean of the other completions of the group (leave-one-out; TRL RLOOTrainer, verl rloo)', 'none', 1e-6);
scaledOutcome('reinforce_baseline', 'r − mean of the group, whitened over the batch (REINFORCE++-baseline; verl, OpenRLHF)', 'batch', 1e-8);

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
