/**
 * The config sections every training command shares, defined once: the local model (`model.*` less its path),
 * the optimizer (`optimizer.*`) and the run's identity (`name`, `out_dir`, `seed`, `overwrite`). Each command's
 * schema composes them with its own defaults; names follow `grpo train` (TRL's learning_rate, lr_scheduler_type,
 * warmup_steps, max_grad_norm, adam_beta1/2, adam_epsilon become optimizer.lr, schedule, warmup_steps,
 * max_grad_norm, beta1/2, eps).
 */
import { z } from 'zod';
import { DEVICE_HELP, DEVICE_PATTERN } from '../engine/device-setting.ts';

const positiveInt = z.number().int().positive();

/** LoRA with PEFT's names (LoraConfig): present means the base is frozen and only adapters (and a critic head) train. */
export const loraSectionSchema = z.strictObject({
  r: positiveInt.default(16).describe("adapter rank (at most every target matrix's smaller side)"),
  alpha: z.number().positive().default(32).describe('lora_alpha: the update is scaled by alpha / r'),
  dropout: z.number().min(0).lt(1).default(0).describe('lora_dropout on the adapter input, in training passes'),
  target_modules: z
    .array(z.enum(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']))
    .min(1)
    .default(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'])
    .describe('projections that get an adapter'),
  use_rslora: z.boolean().default(false).describe('rank-stabilised scaling alpha / sqrt(r) (rsLoRA)'),
});
export type LoraSection = z.infer<typeof loraSectionSchema>;

/** Optional, and null means unset too: SFT configs wrote null for "find it" / "one per core". */
function unsetOrNull<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => v ?? undefined, schema.optional());
}

/** `model.*` less `path` (whose default differs: required for RL, a new model for SFT): spread into a command's model section. */
export const modelSectionFields = {
  tokenizer: unsetOrNull(z.string()).describe('tokenizer path (default: found with the model)'),
  threads: unsetOrNull(positiveInt).describe('compute threads (default: one per core)'),
  device: z
    .string()
    .regex(DEVICE_PATTERN, { error: 'must be auto, cpu, vulkan[:N], cuda[:N] or metal' })
    .optional()
    .describe(DEVICE_HELP),
  precision: z
    .enum(['auto', 'f32', 'bf16'])
    .default('auto')
    .describe(
      'matmul precision of training and decoding: f32 (exact), bf16 (BF16 copies of the weights feed the products; master weights, AdamW and the log-softmax stay f32), or auto (bf16 where the CPU has vector BF16: AVX2 / AVX-512; else f32)',
    ),
  lora: loraSectionSchema
    .optional()
    .describe(
      "train LoRA adapters on a frozen base instead of every weight (lora: {} for the defaults); the model is saved as a PEFT adapter folder, and an RL run's KL reference is the base with adapters off",
    ),
  base_precision: z
    .enum(['bf16', 'f32', 'q8_0'])
    .optional()
    .describe('with lora: how the frozen base is held — bf16 (default), f32, or q8_0 (8-bit blocks, QLoRA-style)'),
};

/** `optimizer.*` (AdamW and its learning-rate schedule); `lr` and `schedule` default per command. */
export function optimizerSectionSchema(defaults: {
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  why: string;
}) {
  return z.strictObject({
    lr: z
      .number()
      .nonnegative()
      .default(defaults.lr)
      .describe(`peak learning rate (${defaults.why}; TRL learning_rate)`),
    schedule: z
      .enum(['constant', 'linear', 'cosine'])
      .default(defaults.schedule)
      .describe('learning-rate schedule after warm-up (TRL lr_scheduler_type)'),
    warmup_steps: z.number().int().nonnegative().default(0).describe('linear warm-up optimizer steps from lr 0'),
    min_lr_ratio: z.number().min(0).max(1).default(0).describe('floor of decaying schedules, as a fraction of lr'),
    weight_decay: z.number().nonnegative().default(0).describe('AdamW decoupled weight decay (not on norms)'),
    beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW β1 (TRL adam_beta1)'),
    beta2: z.number().min(0).lt(1).default(0.999).describe('AdamW β2 (TRL adam_beta2)'),
    eps: z.number().positive().default(1e-8).describe('AdamW ε (TRL adam_epsilon)'),
    max_grad_norm: z.number().positive().default(1).describe('clip the global gradient norm to this'),
  });
}
export type OptimizerSection = z.infer<ReturnType<typeof optimizerSectionSchema>>;

/** `name` and `out_dir`: every command writes into <out_dir>/<name>/; `holds` lists what it writes there. */
export function runSectionFields(defaultName: string, holds?: string) {
  return {
    name: z
      .string()
      .regex(/^[\w.-]+$/, 'use letters, digits, ".", "-" and "_"')
      .default(defaultName)
      .describe(`run name: results go to <out_dir>/<name>/${holds ? ` (${holds})` : ''}`),
    out_dir: z.string().default('runs').describe('folder for run outputs'),
  };
}

/** `seed`: the one seed a run's randomness flows from; `what` says what it seeds in this command. */
export function seedField(what: string) {
  return z.number().int().default(0).describe(`the one seed all randomness flows from (${what})`);
}

/** `overwrite`, for commands that refuse a run folder holding an earlier run. */
export const overwriteField = z
  .boolean()
  .default(false)
  .describe(
    'start afresh in a run folder that holds an earlier run, deleting what it wrote first (--overwrite); without it such a run is refused (grpo train: --resume continues one)',
  );

/** `plugins`: modules imported before the config is validated (plugins.ts), so what they register can be named in it. */
export const pluginsField = z
  .array(z.string())
  .optional()
  .describe(
    'modules to import first, whose registered rewards, methods, presets, transforms and tools the config may name: paths (relative to this file; .ts too) or package names (--plugin PATH adds one)',
  );
