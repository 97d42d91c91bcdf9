/**
 * Clipped-ratio policy losses, one per place the importance ratio lives (docs/methods/ppo.md, gspo.md, rloo.md):
 * per token (PPO, GRPO, DAPO), per sequence as a geometric mean (GSPO) or with each token's own gradient
 * (GSPO-token), or per sequence as the product of token ratios (TRL's RLOO).
 */
import { z } from 'zod';
import { ppoClipLoss, type ImportanceLevel, type PpoClipInput } from '../policy-loss.ts';
import { registerPolicyLoss } from '../registry.ts';

type ClampSides = NonNullable<PpoClipInput['logRatioClampSides']>;

function clipOptions(epsilon: number, epsilonHigh: number | undefined, clamp: number, sides: ClampSides) {
  return z.object({
    epsilon: z.number().min(0).lt(1).default(epsilon).describe('clip ε: the ratio floor is 1 − ε'),
    epsilon_high: (epsilonHigh === undefined
      ? z.number().nonnegative().optional()
      : z.number().nonnegative().default(epsilonHigh)
    ).describe('upper clip: the ratio ceiling is 1 + epsilon_high (DAPO clip-higher; default epsilon)'),
    dual_clip_c: z
      .number()
      .gt(1)
      .optional()
      .describe('dual-clip bound c for negative advantages (verl clip_ratio_c; off when unset)'),
    log_ratio_clamp: z
      .number()
      .positive()
      .default(clamp)
      .describe(
        sides === 'both'
          ? 'the log-ratio is clamped to ±this before exp, with no gradient outside'
          : 'the log-ratio is clamped from above at this before exp (not from below), with no gradient past it',
      ),
  });
}

function clipLoss(
  name: string,
  description: string,
  level: ImportanceLevel,
  epsilon: number,
  epsilonHigh: number | undefined,
  clamp: number,
  sides: ClampSides,
) {
  registerPolicyLoss({
    name,
    description,
    options: clipOptions(epsilon, epsilonHigh, clamp, sides),
    loss: (b, o) =>
      ppoClipLoss({
        logp: b.logp,
        oldLogp: b.oldLogp,
        advantages: b.advantages,
        level,
        aggregation: b.aggregation,
        maxLength: b.maxLength,
        normalizer: b.normalizer,
        mask: b.mask,
        weights: b.weights,
        logpDetached: b.logpDetached,
        epsLow: o.epsilon,
        epsHigh: o.epsilon_high ?? o.epsilon,
        dualClipC: o.dual_clip_c,
        logRatioClamp: o.log_ratio_clamp,
        logRatioClampSides: sides,
      }),
  });
}

// verl compute_policy_loss_vanilla clamps the token log-ratio to ±20; its compute_policy_loss_gspo clamps the combined
// one only from above, torch.clamp(·, max=10.0)
clipLoss('ppo', 'PPO clipped surrogate with a ratio per token (PPO, GRPO, DAPO)', 'token', 0.2, undefined, 20, 'both');
clipLoss(
  'gspo',
  'ratio per sequence: the geometric mean of its token ratios (GSPO)',
  'sequence',
  3e-4,
  4e-4,
  10,
  'upper',
);
clipLoss(
  'gspo_token',
  'GSPO\'s sequence ratio as a value, each token\'s own gradient (GSPO-token; verl "gspo")',
  'sequence-token',
  3e-4,
  4e-4,
  10,
  'upper',
);
clipLoss(
  'rloo',
  'one ratio per sequence, the product of its token ratios: the completion is one action (TRL RLOOTrainer)',
  'sequence-sum',
  0.2,
  undefined,
  20,
  'both',
);
