/** The method knobs every method shares (the `algorithm` section less the chosen methods' own options). */
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const aggregation = z.enum(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm']);

/**
 * The method knobs every method shares; undefined means "the preset's value". The chosen advantage estimator's
 * and policy loss's own options (algorithm.epsilon, algorithm.gamma, algorithm.disco_tau, …) and the batch
 * transforms' (algorithm.dynamic_sampling, algorithm.gfpo_keep, …) sit beside them and are checked against their
 * schemas (presets.ts, src/algorithms/methods/, src/trainer/transforms/).
 */
export const sharedAlgorithmSchema = z.object({
  preset: z
    .string()
    .default('grpo')
    .describe('method whose paper defaults fill every knob below (grpo config --preset NAME lists them)'),
  advantage: z.string().optional().describe('advantage estimator (a registered name)'),
  loss: z.string().optional().describe('policy loss (a registered name)'),
  aggregation: aggregation.optional().describe('how per-token losses become one number'),
  kl_beta: z
    .number()
    .nonnegative()
    .optional()
    .describe('KL coefficient β to the frozen reference (0: no reference model)'),
  kl_estimator: z.enum(['k1', 'k2', 'k3', 'k3+']).optional().describe('KL estimator'),
  kl_placement: z.enum(['loss', 'reward']).optional().describe('KL as a loss term or folded into the reward'),
  kl_clamp: z
    .number()
    .nonnegative()
    .optional()
    .describe(
      "clamp each token's KL estimate to ±this, in the loss or the reward (0: none, as TRL; OpenRLHF clamps to 10)",
    ),
  num_iterations: positiveInt
    .optional()
    .describe('PPO epochs over each rollout batch (μ; TRL num_iterations, verl ppo_epochs)'),
  mini_batches: positiveInt
    .optional()
    .describe('optimizer steps per epoch over the rollout batch (verl train_batch_size / ppo_mini_batch_size)'),
  mask_truncated: z.boolean().optional().describe('overlong filtering: truncated completions leave the loss'),
  transforms: z
    .array(z.string())
    .optional()
    .describe(
      'batch transforms to apply besides those their own keys turn on (registered names; grpo config lists them)',
    ),
  entropy_coef: z.number().optional().describe('entropy bonus coefficient'),
  rollout_correction: z
    .enum(['none', 'token_truncate', 'token_mask', 'sequence_truncate', 'sequence_mask'])
    .optional()
    .describe(
      'importance correction for sampler / trainer mismatch (a rollout server, or decoding in another precision) (TIS / MIS)',
    ),
  rollout_correction_max: z.number().positive().optional().describe('upper bound C of the correction ratio'),
  rollout_correction_min: z
    .number()
    .nonnegative()
    .optional()
    .describe('lower bound of the correction ratio (mask modes)'),
});
