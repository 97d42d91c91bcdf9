/**
 * The `grpo sft` configuration: one YAML file validated by this schema through the shared config module
 * (src/config/); every key has a default and a one-line doc, unknown keys are an error naming the key, and
 * `--a.b value` flags override keys. Keys are named as `grpo train` names them (model, optimizer, training,
 * name/out_dir/seed); the old SFT names still work with a warning. Training defaults follow TRL's SFTConfig / HF
 * TrainingArguments (lr 2e-5, linear decay, no warm-up, max_grad_norm 1, AdamW β 0.9/0.999, 3 epochs); the
 * rejection-sampling defaults follow DeepSeek-R1 §2.3.3 (sample several answers, keep the correct, well-formatted
 * ones).
 */
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { rewardEntrySchema } from '../rewards/registry.ts';
import {
  defineConfig,
  type ConfigOverrides,
  modelSectionFields,
  optimizerSectionSchema,
  overwriteField,
  pluginsField,
  runSectionFields,
  seedField,
  type DeprecatedKey,
} from '../config/index.ts';
import { GrpoError } from '../errors.ts';

const positiveInt = z.number().int().positive();

const initSchema = z.strictObject({
  dim: positiveInt.default(64).describe('hidden size of a new model'),
  n_layers: positiveInt.default(2).describe('transformer blocks'),
  n_heads: positiveInt.default(4).describe('attention heads'),
  n_kv_heads: positiveInt
    .nullable()
    .default(null)
    .describe('key/value heads (grouped-query attention); null = n_heads'),
  ffn_dim: positiveInt.default(256).describe('SwiGLU intermediate size'),
  max_seq_len: positiveInt.default(64).describe('longest sequence (prompt + completion) in tokens'),
  rope_theta: z.number().positive().default(10000).describe('RoPE base frequency'),
  tie_embeddings: z.boolean().default(true).describe('share the token embedding with the output head'),
  init_seed: z.number().int().default(0).describe('seed of the random initialisation'),
});

const modelSchema = z.strictObject({
  path: z
    .string()
    .nullable()
    .default(null)
    .describe(
      'starting checkpoint: HF folder, .gguf, llama2.c .bin, or "embedded" (the shipped model); null = a new model from model.init with the embedded task\'s character tokenizer',
    ),
  ...modelSectionFields,
  init: initSchema.prefault({}).describe('architecture of a new model (model.path null)'),
});

const dataSchema = z.strictObject({
  train: z
    .string()
    .default('embedded:addition')
    .describe("training data: .jsonl/.json/.parquet file or embedded:<task> (as grpo train's data.train)"),
  prompt_field: z.string().default('prompt').describe('field holding the prompt text'),
  completion_field: z.string().default('completion').describe('field holding the reference completion (cold_start)'),
  answer_field: z.string().default('answer').describe('field holding the gold answer (rewards, evaluation)'),
  limit: positiveInt
    .nullable()
    .default(null)
    .describe('rows of a file to use; for an embedded task, examples to generate (null = 10000)'),
  task_options: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('options of an embedded task (addition: digits, carry_slip_rate)'),
  template: z
    .enum(['raw', 'r1_zero', 'chat'])
    .default('raw')
    .describe('prompt text: as is, the R1-Zero template, or the tokenizer chat template'),
  system: z.string().nullable().default(null).describe('system message for the chat template'),
  eval: z
    .string()
    .nullable()
    .default(null)
    .describe(
      "held-out prompts with answers (as grpo train's data.eval); null = the embedded task's held-out split, or no evaluation for a file",
    ),
  eval_size: positiveInt.default(200).describe('held-out prompts scored'),
  eval_seed: z.number().int().default(1).describe('seed of an embedded held-out draw'),
  mask_tool_responses: z
    .boolean()
    .default(true)
    .describe(
      "cold_start: <tool_response>…</tool_response> in a completion is a tool's output, read as context and not trained on (as in RL episodes)",
    ),
});

// optimisation knobs live in the shared optimizer section; these are the loop's own
const trainingSchema = z.strictObject({
  epochs: z.number().positive().default(3).describe('passes over the data (TRL num_train_epochs)'),
  max_steps: positiveInt.nullable().default(null).describe('optimizer steps; overrides epochs when set'),
  batch_size: positiveInt.default(8).describe('examples per optimizer step'),
  micro_batch_size: positiveInt
    .nullable()
    .default(null)
    .describe('examples per forward/backward (gradient accumulation); null = batch_size'),
  gradient_checkpointing: z
    .boolean()
    .default(false)
    .describe(
      "recompute each layer's activations in the backward instead of keeping them (TRL gradient_checkpointing)",
    ),
  eval_every: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('greedy held-out accuracy every N steps (0 = only at the end)'),
  eval_max_tokens: positiveInt
    .nullable()
    .default(null)
    .describe("completion tokens at most in evaluation; null = the embedded task's need + 8, or 256"),
  eval_final: z.boolean().default(true).describe('score the held-out set before and after training'),
});

const rejectionSchema = z.strictObject({
  prompts: positiveInt.default(512).describe('prompts to sample (the first N of the data; an embedded task draws N)'),
  n: positiveInt.default(8).describe('samples per prompt'),
  temperature: z.number().positive().default(1).describe('sampling temperature'),
  top_p: z.number().gt(0).lte(1).default(1).describe('nucleus sampling mass'),
  max_tokens: positiveInt
    .nullable()
    .default(null)
    .describe('completion tokens at most; null = as training.eval_max_tokens'),
  rewards: z
    .array(rewardEntrySchema)
    .min(1)
    .default([
      { type: 'math', weight: 1, options: {} },
      { type: 'format', weight: 1, options: {} },
    ])
    .describe('reward functions judging samples (default: correct answer + R1 format)'),
  threshold: z
    .number()
    .default(2)
    .describe('keep samples whose weighted reward is ≥ this (default: both default rewards pass)'),
  keep_truncated: z.boolean().default(false).describe('keep samples cut at max_tokens'),
  max_per_prompt: positiveInt
    .nullable()
    .default(null)
    .describe('kept samples per prompt at most; null = all distinct ones'),
});

export const sftConfigSchema = z.strictObject({
  stage: z
    .enum(['cold_start', 'rejection_sampling'])
    .default('cold_start')
    .describe(
      "cold_start: SFT on reference completions; rejection_sampling: SFT on the model's own samples that pass the rewards (R1 stage 3)",
    ),
  ...runSectionFields('sft'),
  plugins: pluginsField,
  overwrite: overwriteField,
  seed: seedField('data order, embedded training draws and sampling'),
  progress: z.boolean().default(true).describe('show a progress bar'),
  model: modelSchema.prefault({}).describe('starting model'),
  data: dataSchema.prefault({}).describe('training and held-out data'),
  optimizer: optimizerSectionSchema({ lr: 2e-5, schedule: 'linear', why: 'TRL SFTConfig default' })
    .prefault({})
    .describe('AdamW and its learning-rate schedule'),
  training: trainingSchema.prefault({}).describe('the training loop and held-out evaluation'),
  rejection: rejectionSchema.prefault({}).describe('rejection sampling (stage rejection_sampling)'),
});

export type SftConfig = z.infer<typeof sftConfigSchema>;
export type SftConfigInput = z.input<typeof sftConfigSchema>;

const OPTIMIZER_KEYS = [
  'lr',
  'schedule',
  'warmup_steps',
  'min_lr_ratio',
  'weight_decay',
  'beta1',
  'beta2',
  'eps',
  'max_grad_norm',
];

/** SFT's earlier names, which still work with a warning: keys of a moved section come before the section. */
export const SFT_DEPRECATED_KEYS: readonly DeprecatedKey[] = [
  {
    old: 'output_dir',
    now: 'out_dir',
    hint: "with 'name': the run folder is <out_dir>/<name>/",
    to: (v) => (typeof v === 'string' ? { out_dir: dirname(v), name: basename(v) } : { out_dir: v }),
  },
  { old: 'train.lr_schedule', now: 'optimizer.schedule' },
  ...OPTIMIZER_KEYS.map((k) => ({ old: `train.${k}`, now: `optimizer.${k}` })),
  { old: 'train', now: 'training' },
  { old: 'eval.every', now: 'training.eval_every' },
  { old: 'eval.max_tokens', now: 'training.eval_max_tokens' },
  { old: 'eval.final', now: 'training.eval_final' },
  { old: 'data.path', now: 'data.train' },
  { old: 'data.eval_path', now: 'data.eval' },
];

export const sftConfig = defineConfig({
  command: 'sft',
  schema: sftConfigSchema,
  deprecated: SFT_DEPRECATED_KEYS,
  check(c, label) {
    if (c.model.path === null && !c.data.train.startsWith('embedded:')) {
      throw new GrpoError(
        'config',
        `${label}: model.path is null (train a new model) but data.train '${c.data.train}' is a file; a new model needs an embedded task's tokenizer, so set model.path or use embedded:<task> data`,
      );
    }
    if (c.training.micro_batch_size !== null && c.training.micro_batch_size > c.training.batch_size) {
      throw new GrpoError(
        'config',
        `${label}: 'training.micro_batch_size' (${c.training.micro_batch_size}) is larger than 'training.batch_size' (${c.training.batch_size})`,
      );
    }
  },
});

/** Validate a raw config object; an invalid or unknown key is one GrpoError naming it. */
export function parseSftConfig(raw: unknown, label = 'sft config'): SftConfig {
  return sftConfig.parse(raw, label);
}

/**
 * Read a YAML config (an absent path = all defaults) and apply overrides (`--a.b value` flags or an object);
 * plugins it names must be imported already (`await sftConfig.loadAsync(file, overrides)` imports them).
 */
export function loadSftConfig(file: string | null, overrides: ConfigOverrides<SftConfigInput> = []): SftConfig {
  return sftConfig.load(file, overrides).config;
}

/** Every key with its default and doc, one per line. */
export function sftConfigReference(): string {
  return sftConfig.reference();
}

/** The run folder: <out_dir>/<name>/. */
export function sftRunDir(c: SftConfig): string {
  return join(c.out_dir, c.name);
}
