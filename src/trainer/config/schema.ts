/**
 * The `grpo train` configuration: one YAML file, validated here. Every key has a default and a one-line doc
 * (`describe`); unknown keys are errors. The model, optimizer and run-identity sections are the ones every training
 * command shares (src/config/sections.ts). Method knobs under `algorithm` default to the chosen preset's paper values
 * (presets.ts) and any of them can be overridden individually.
 */
import { z } from 'zod';
import {
  modelSectionFields,
  optimizerSectionSchema,
  overwriteField,
  pluginsField,
  runSectionFields,
  seedField,
} from '../../config/sections.ts';
import { rewardEntrySchema } from '../../rewards/registry.ts';
import { checkAlgorithm } from './presets.ts';
import { sharedAlgorithmSchema } from './algorithm-schema.ts';

const positiveInt = z.number().int().positive();

const modelSchema = z.strictObject({
  path: z
    .string()
    .describe('policy: Hugging Face folder, .gguf, llama2.c .bin, or "embedded" (the shipped demo model)'),
  ...modelSectionFields,
});

const dataSchema = z
  .object({
    train: z.string().describe('training prompts: a .jsonl/.json/.parquet file, or embedded:<task>'),
    eval: z.string().optional().describe('held-out prompts (default: a held-out split of train)'),
    eval_size: positiveInt.default(200).describe('held-out prompts used for accuracy'),
    mapping: z
      .union([z.string(), z.record(z.string(), z.string())])
      .optional()
      .describe('dataset preset name or field map (default: guessed from the columns)'),
    template: z
      .enum(['raw', 'r1_zero', 'chat'])
      .default('raw')
      .describe('prompt text: the prompt as is, the R1-Zero template, or the model chat template'),
    system: z.string().optional().describe('system message for the chat template'),
    max_prompt_tokens: positiveInt.default(512).describe('prompts longer than this are dropped'),
    sampler: z
      .enum(['uniform', 'curriculum', 'prioritized'])
      .default('uniform')
      .describe('prompt order: uniform epochs, easy-to-hard curriculum, or Kimi-style by failure rate'),
  })
  .strict();

const rolloutSchema = z
  .object({
    prompts_per_step: positiveInt.default(16).describe('prompts per training step'),
    group_size: positiveInt.default(8).describe('completions per prompt (G, TRL num_generations)'),
    max_tokens: positiveInt.default(256).describe('new tokens per completion at most (max_completion_length)'),
    temperature: z.number().positive().default(1).describe('sampling temperature (also used to score log-probs)'),
    top_p: z.number().gt(0).lte(1).default(1).describe('nucleus sampling mass'),
    top_k: z.number().int().nonnegative().default(0).describe('top-k sampling (0: off)'),
    min_p: z.number().min(0).max(1).default(0).describe('min-p sampling (0: off)'),
    stop: z.array(z.string()).default([]).describe('stop strings'),
    precision: z
      .enum(['auto', 'f32', 'bf16'])
      .optional()
      .describe(
        'embedded decoding: precision (default: model.precision); when it differs from model.precision, behaviour log-probs are recomputed at model.precision',
      ),
    engine: z
      .enum(['embedded', 'openai'])
      .default('embedded')
      .describe('who generates: the policy itself, or an OpenAI-compatible server (vLLM, SGLang, grpo serve)'),
    base_url: z
      .union([z.string(), z.array(z.string()).min(1)])
      .optional()
      .describe(
        'rollout.engine "openai": the server URL, e.g. http://127.0.0.1:8000/v1, or a list of servers that serve the same model (a fleet: each request goes to the least busy; one that fails is taken out and its requests retried on the others)',
      ),
    api_key: z.string().optional().describe('rollout.engine "openai": API key, if the server wants one'),
    served_model: z
      .string()
      .optional()
      .describe('rollout.engine "openai": model name (default: the first the server lists)'),
    concurrency: positiveInt
      .optional()
      .describe(
        'rollout.engine "openai": requests in flight per server at most (default: prompts_per_step, at least 8 — a whole batch on the server at once, which asynchronous rollouts need)',
      ),
    max_staleness: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe(
        'rollout servers: generate the next batches while the current one trains, sampled at most this many policy versions behind (0: synchronous; AReaL max_head_offpolicyness)',
      ),
    weight_sync: z
      .enum(['disk', 'none'])
      .default('disk')
      .describe(
        'rollout.engine "openai": after each step, save the policy and ask the server to load it (POST /update_weights_from_disk, as SGLang)',
      ),
    local_servers: positiveInt
      .optional()
      .describe(
        'start this many `grpo serve` processes on the starting policy and take rollouts from them (implies rollout.engine "openai"; no base_url); they end with the run',
      ),
    local_server_threads: positiveInt
      .optional()
      .describe(
        'rollout.local_servers: compute threads of each (default: the cores split evenly among the servers and the trainer, floor(cores / (N + 1)); with model.threads set, what it leaves, split among the servers); an unset model.threads gets the cores the servers leave',
      ),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.local_servers !== undefined && r.base_url !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['local_servers'],
        message: 'takes no rollout.base_url: the run starts its own servers; remove one of the two',
      });
    if (r.local_server_threads !== undefined && r.local_servers === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['local_server_threads'],
        message: 'is for rollout.local_servers, which is not set',
      });
  });

/** Multi-turn rollouts with tools (agentic RL): present means every rollout is an episode in this environment. */
export const environmentSchema = z
  .object({
    tools: z
      .array(z.enum(['calculator', 'python']))
      .default([])
      .describe('built-in tools the model may call (user-defined ones come through train(config, { tools }))'),
    format: z
      .enum(['hermes', 'plain'])
      .default('hermes')
      .describe(
        'tool calls as Qwen/Hermes <tool_call>{json}</tool_call> through the chat template, or plain <name>body</name> for base models',
      ),
    max_turns: positiveInt.default(4).describe('model turns per episode at most (verl max_assistant_turns)'),
    tool_timeout_s: z
      .number()
      .positive()
      .default(10)
      .describe('time one tool call may take; a call past it is answered with a timeout error'),
    max_response_chars: positiveInt
      .default(256)
      .describe('characters of one tool response at most; longer ones are cut (verl max_tool_response_length)'),
  })
  .strict();

// method options are the extra keys; checkAlgorithm names any that the chosen methods do not take
const algorithmSchema = sharedAlgorithmSchema.catchall(z.unknown()).superRefine((a, ctx) => {
  for (const issue of checkAlgorithm(a)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});

const trainingSchema = z
  .object({
    steps: positiveInt.default(100).describe('training steps (rollout batches)'),
    micro_batch_groups: positiveInt.default(4).describe('groups per forward/backward pass (memory vs speed)'),
    micro_batch_sequences: positiveInt
      .optional()
      .describe('sequences per forward/backward pass instead, for PPO-clip and GSPO losses (large vocabularies)'),
    gradient_checkpointing: z
      .boolean()
      .default(false)
      .describe(
        "recompute each layer's activations in the backward instead of keeping them: about 1/3 more compute, activation memory of one layer",
      ),
    eval_every: z.number().int().nonnegative().default(0).describe('evaluate every N steps (0: only before and after)'),
    eval_max_tokens: positiveInt.optional().describe('max tokens of greedy evaluation (default rollout.max_tokens)'),
    save_every: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('write a resumable checkpoint every N steps (0: by time only, see save_minutes)'),
    save_minutes: z
      .number()
      .nonnegative()
      .default(10)
      .describe(
        'also write one once this many minutes have passed since the last (0: off), so a crash loses at most that much work; Ctrl-C / SIGTERM write one too',
      ),
    log_completions_every: z
      .number()
      .int()
      .nonnegative()
      .default(10)
      .describe('write sample completions every N steps (0: never)'),
    max_nonfinite_steps: positiveInt
      .default(5)
      .describe('stop after this many consecutive steps with non-finite loss or gradients'),
    report_to: z
      .union([z.enum(['none', 'tensorboard']), z.array(z.enum(['tensorboard']))])
      .default('none')
      .describe(
        'also log metrics to: tensorboard (event files in the run folder: tensorboard --logdir runs/); metrics.jsonl is always written',
      ),
    check_memory: z
      .boolean()
      .default(true)
      .describe('before starting, estimate the memory the run needs and refuse one this machine cannot hold'),
  })
  .strict();

export const trainConfigSchema = z
  .object({
    ...runSectionFields('run'),
    plugins: pluginsField,
    overwrite: overwriteField,
    seed: seedField('sampling, data order, initialisation'),
    model: modelSchema,
    data: dataSchema,
    rollout: rolloutSchema.prefault({}),
    rewards: z
      .array(rewardEntrySchema)
      .min(1)
      .default([
        { type: 'math', weight: 1, options: {} },
        { type: 'format', weight: 0.1, options: {} },
      ])
      .describe('weighted rewards'),
    algorithm: algorithmSchema.prefault({}),
    optimizer: optimizerSectionSchema({
      lr: 1e-6,
      schedule: 'constant',
      why: 'small and constant, as RL fine-tuning of a pretrained policy uses',
    }).prefault({}),
    training: trainingSchema.prefault({}),
    environment: environmentSchema
      .optional()
      .describe(
        'multi-turn episodes with tools; rollout.max_tokens then bounds a whole episode (sampled and inserted tokens)',
      ),
  })
  .strict();

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type AlgorithmConfig = z.input<typeof sharedAlgorithmSchema> & Record<string, unknown>;
