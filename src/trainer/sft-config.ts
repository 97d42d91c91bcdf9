/**
 * The `grpo sft` configuration: one YAML file validated by this schema; every key has a default and a one-line
 * doc, unknown keys are an error naming the key, and `--a.b value` flags override keys. Training defaults follow
 * TRL's SFTConfig / HF TrainingArguments (lr 2e-5, linear decay, no warm-up, max_grad_norm 1, AdamW β 0.9/0.999,
 * 3 epochs); the rejection-sampling defaults follow DeepSeek-R1 §2.3.3 (sample several answers, keep the
 * correct, well-formatted ones).
 */
import { loraSchema } from './config/schema.ts';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { rewardEntrySchema } from '../rewards/registry.ts';
import { describeConfig, parseConfig, readConfigFile } from '../trainingfree/common/config.ts';
import { parseOverrides, setPath } from './config/load.ts';
import { GrpoError } from '../errors.ts';
import { DEVICE_HELP, DEVICE_PATTERN } from '../engine/device-setting.ts';

const positiveInt = z.number().int().positive();

const initSchema = z.strictObject({
  dim: positiveInt.default(64).describe('hidden size of a new model'),
  n_layers: positiveInt.default(2).describe('transformer blocks'),
  n_heads: positiveInt.default(4).describe('attention heads'),
  n_kv_heads: positiveInt.nullable().default(null).describe('key/value heads (grouped-query attention); null = n_heads'),
  ffn_dim: positiveInt.default(256).describe('SwiGLU intermediate size'),
  max_seq_len: positiveInt.default(64).describe('longest sequence (prompt + completion) in tokens'),
  rope_theta: z.number().positive().default(10000).describe('RoPE base frequency'),
  tie_embeddings: z.boolean().default(true).describe('share the token embedding with the output head'),
  init_seed: z.number().int().default(0).describe('seed of the random initialisation'),
});

const modelSchema = z.strictObject({
  path: z.string().nullable().default(null).describe('starting checkpoint: HF folder, .gguf, llama2.c .bin, or "embedded" (the shipped model); null = a new model from model.init with the embedded task\'s character tokenizer'),
  tokenizer: z.string().nullable().default(null).describe('tokenizer path; null = found with the model'),
  threads: positiveInt.nullable().default(null).describe('compute threads; null = one per core'),
  device: z.string().regex(DEVICE_PATTERN, { error: 'must be auto, cpu, vulkan[:N], cuda[:N] or metal' }).optional().describe(DEVICE_HELP),
  precision: z.enum(['auto', 'f32', 'bf16']).default('auto').describe('matmul precision: f32 (exact), bf16 (BF16 copies of the weights feed the products; master weights and AdamW stay f32), or auto (bf16 where the CPU has vector BF16: AVX2 / AVX-512; else f32)'),
  init: initSchema.prefault({}).describe('architecture of a new model (model.path null)'),
  lora: loraSchema.optional().describe('train LoRA adapters on a frozen base (lora: {} for the defaults); the result is a PEFT adapter folder'),
  base_precision: z.enum(['bf16', 'f32', 'q8_0']).optional().describe('with lora: how the frozen base is held — bf16 (default), f32, or q8_0'),
});

const dataSchema = z.strictObject({
  path: z.string().default('embedded:addition').describe('training data: .jsonl/.json/.parquet file or embedded:<task>'),
  prompt_field: z.string().default('prompt').describe('field holding the prompt text'),
  completion_field: z.string().default('completion').describe('field holding the reference completion (cold_start)'),
  answer_field: z.string().default('answer').describe('field holding the gold answer (rewards, evaluation)'),
  limit: positiveInt.nullable().default(null).describe('rows of a file to use; for an embedded task, examples to generate (null = 10000)'),
  task_options: z.record(z.string(), z.unknown()).default({}).describe('options of an embedded task (addition: digits, carry_slip_rate)'),
  template: z.enum(['raw', 'r1_zero', 'chat']).default('raw').describe('prompt text: as is, the R1-Zero template, or the tokenizer chat template'),
  system: z.string().nullable().default(null).describe('system message for the chat template'),
  eval: z.string().nullable().default(null).describe('held-out prompts with answers (as grpo train\'s data.eval); null = the embedded task\'s held-out split, or no evaluation for a file'),
  eval_size: positiveInt.default(200).describe('held-out prompts scored'),
  eval_seed: z.number().int().default(1).describe('seed of an embedded held-out draw'),
  mask_tool_responses: z.boolean().default(true).describe('cold_start: <tool_response>…</tool_response> in a completion is a tool\'s output, read as context and not trained on (as in RL episodes)'),
});

const trainSchema = z.strictObject({
  epochs: z.number().positive().default(3).describe('passes over the data (TRL num_train_epochs)'),
  max_steps: positiveInt.nullable().default(null).describe('optimizer steps; overrides epochs when set'),
  batch_size: positiveInt.default(8).describe('examples per optimizer step'),
  gradient_checkpointing: z.boolean().default(false).describe('recompute each layer\'s activations in the backward instead of keeping them (TRL gradient_checkpointing)'),
  micro_batch_size: positiveInt.nullable().default(null).describe('examples per forward/backward (gradient accumulation); null = batch_size'),
  lr: z.number().nonnegative().default(2e-5).describe('peak learning rate (TRL SFTConfig default)'),
  schedule: z.enum(['constant', 'linear', 'cosine']).default('linear').describe('decay after warm-up (as grpo train\'s optimizer.schedule)'),
  warmup_steps: z.number().int().nonnegative().default(0).describe('linear warm-up steps from lr 0'),
  min_lr_ratio: z.number().min(0).max(1).default(0).describe('learning-rate floor as a fraction of lr'),
  weight_decay: z.number().nonnegative().default(0).describe('AdamW decoupled weight decay (not on norms)'),
  beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW β1'),
  beta2: z.number().min(0).lt(1).default(0.999).describe('AdamW β2'),
  eps: z.number().positive().default(1e-8).describe('AdamW ε'),
  max_grad_norm: z.number().positive().default(1).describe('clip the global gradient norm to this'),
});

const evalSchema = z.strictObject({
  every: z.number().int().nonnegative().default(0).describe('greedy held-out accuracy every N steps (0 = only at the end)'),
  max_tokens: positiveInt.nullable().default(null).describe('completion tokens at most; null = the embedded task\'s need + 8, or 256'),
  final: z.boolean().default(true).describe('score the held-out set before and after training'),
});


const rejectionSchema = z.strictObject({
  prompts: positiveInt.default(512).describe('prompts to sample (the first N of the data; an embedded task draws N)'),
  n: positiveInt.default(8).describe('samples per prompt'),
  temperature: z.number().positive().default(1).describe('sampling temperature'),
  top_p: z.number().gt(0).lte(1).default(1).describe('nucleus sampling mass'),
  max_tokens: positiveInt.nullable().default(null).describe('completion tokens at most; null = as eval.max_tokens'),
  rewards: z.array(rewardEntrySchema).min(1).default([{ type: 'math', weight: 1, options: {} }, { type: 'format', weight: 1, options: {} }])
    .describe('reward functions judging samples (default: correct answer + R1 format)'),
  threshold: z.number().default(2).describe('keep samples whose weighted reward is ≥ this (default: both default rewards pass)'),
  keep_truncated: z.boolean().default(false).describe('keep samples cut at max_tokens'),
  max_per_prompt: positiveInt.nullable().default(null).describe('kept samples per prompt at most; null = all distinct ones'),
});

export const sftConfigSchema = z.strictObject({
  stage: z.enum(['cold_start', 'rejection_sampling']).default('cold_start').describe('cold_start: SFT on reference completions; rejection_sampling: SFT on the model\'s own samples that pass the rewards (R1 stage 3)'),
  seed: z.number().int().default(0).describe('seed of the data order, embedded training draws and sampling'),
  output_dir: z.string().default('runs/sft').describe('run folder: metrics.jsonl, config.json, model/ (final HF checkpoint)'),
  progress: z.boolean().default(true).describe('show a progress bar'),
  model: modelSchema.prefault({}).describe('starting model'),
  data: dataSchema.prefault({}).describe('training and held-out data'),
  train: trainSchema.prefault({}).describe('optimisation'),
  eval: evalSchema.prefault({}).describe('held-out evaluation'),
  rejection: rejectionSchema.prefault({}).describe('rejection sampling (stage rejection_sampling)'),
});

export type SftConfig = z.infer<typeof sftConfigSchema>;
export type SftConfigInput = z.input<typeof sftConfigSchema>;

/** Old names that still work, with a one-line warning: SFT now names them as grpo train does. */
const DEPRECATED_KEYS: [section: string, old: string, now: string][] = [['train', 'lr_schedule', 'schedule'], ['data', 'eval_path', 'eval']];

function renameDeprecated(raw: unknown, label: string): unknown {
  let out = raw;
  for (const [section, old, now] of DEPRECATED_KEYS) {
    const s = (out as Record<string, unknown> | null)?.[section] as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object' || !(old in s)) continue;
    if (now in s) throw new GrpoError('config', `${label}: '${section}.${old}' and '${section}.${now}' are the same key; keep '${section}.${now}'`);
    console.warn(`${label}: '${section}.${old}' is deprecated; use '${section}.${now}'`);
    const { [old]: value, ...rest } = s;
    out = { ...(out as Record<string, unknown>), [section]: { ...rest, [now]: value } };
  }
  return out;
}

/** Validate a raw config object; an invalid or unknown key is one GrpoError naming it. */
export function parseSftConfig(raw: unknown, label = 'sft config'): SftConfig {
  const c = parseConfig(sftConfigSchema, renameDeprecated(raw, label), label);
  if (c.model.path === null && !c.data.path.startsWith('embedded:')) {
    throw new GrpoError('config', `${label}: model.path is null (train a new model) but data.path '${c.data.path}' is a file; a new model needs an embedded task's tokenizer, so set model.path or use embedded:<task> data`);
  }
  if (c.train.micro_batch_size !== null && c.train.micro_batch_size > c.train.batch_size) {
    throw new GrpoError('config', `${label}: 'train.micro_batch_size' (${c.train.micro_batch_size}) is larger than 'train.batch_size' (${c.train.batch_size})`);
  }
  return c;
}

/** Read a YAML config (an absent path = all defaults) and apply `--a.b value` overrides. */
export function loadSftConfig(file: string | null, overrides: readonly string[] = []): SftConfig {
  let raw: unknown = {};
  if (file !== null) {
    if (!existsSync(file)) throw new GrpoError('config', `config file ${file} does not exist`);
    raw = readConfigFile(file).raw ?? {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new GrpoError('config', `${file} must hold a mapping of keys (stage, model, data, train, …)`);
  }
  for (const [key, value] of parseOverrides(overrides)) setPath(raw as Record<string, unknown>, key, value);
  return parseSftConfig(raw, file ?? 'sft config');
}

/** Every key with its default and doc, one per line. */
export function sftConfigReference(): string {
  return describeConfig(sftConfigSchema).join('\n');
}
