/**
 * Config sections shared by `grpo tfgrpo` and `grpo gepa`: the task (data splits, fields, metric) and the
 * model endpoints (they talk to servers, so no local model section). Reading, flags and validation are the shared
 * config module's (src/config/). Keys are snake_case, as in the reference implementations (gepa, youtu-agent) and TRL.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { GrpoError } from '../../errors.ts';
import { OpenAIClient } from '../../rollout/openai-client.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { loadExamples, type TaskExample } from './dataset.ts';

export const modelEndpointSchema = z.strictObject({
  base_url: z
    .string()
    .default('http://127.0.0.1:8000/v1')
    .describe('server root with its API prefix (any OpenAI-compatible server, e.g. `grpo serve`, vLLM, OpenAI)'),
  model: z
    .string()
    .nullable()
    .default(null)
    .describe('model name sent with each request; null = the first id the server lists at GET /models'),
  api_key: z.string().nullable().default(null).describe('bearer token; null = $OPENAI_API_KEY when set, else none'),
  concurrency: z.number().int().min(1).default(8).describe('requests in flight at once'),
  timeout_ms: z.number().int().min(1).default(120_000).describe('per-attempt timeout in milliseconds'),
  max_retries: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe('retries on 408/429/5xx/network errors, with exponential back-off and jitter'),
  max_tokens: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe('completion length cap per request; null = server default'),
  cache_dir: z
    .string()
    .nullable()
    .default(null)
    .describe('on-disk response cache folder (deterministic requests only); null = memory only'),
});
export type ModelEndpointConfig = z.infer<typeof modelEndpointSchema>;

export const taskSchema = z.strictObject({
  train: z.string().default('').describe('training split: .jsonl, .json or .parquet (optionally .gz); required'),
  val: z.string().nullable().default(null).describe('validation split (GEPA Pareto set); null = GEPA reuses train'),
  test: z
    .string()
    .nullable()
    .default(null)
    .describe('held-out split scored before and after; null = no held-out evaluation'),
  input_field: z
    .string()
    .nullable()
    .default(null)
    .describe(
      "field holding the task input (dotted paths reach into nested records); null = 'question', or 'prompt' in rows without one",
    ),
  answer_field: z.string().default('answer').describe('field holding the gold answer'),
  id_field: z.string().nullable().default(null).describe('field holding a unique id; null = row position'),
  metric: z.string().default('math').describe('metric name: math | exact_match | contains'),
  train_limit: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe('use only the first N training rows; null = all'),
  val_limit: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe('use only the first N validation rows; null = all'),
  test_limit: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe('use only the first N held-out rows; null = all'),
});
export type TaskConfig = z.infer<typeof taskSchema>;

export interface LoadedSplits {
  train: TaskExample[];
  val: TaskExample[] | null;
  test: TaskExample[] | null;
}

export async function loadTaskSplits(task: TaskConfig, baseDir: string): Promise<LoadedSplits> {
  if (!task.train)
    throw new GrpoError('config', `task.train is required: the path of the training split (.jsonl or .json)`);
  const common = { inputField: task.input_field, answerField: task.answer_field, idField: task.id_field };
  return {
    train: await loadExamples({ ...common, path: task.train, limit: task.train_limit }, baseDir),
    val: task.val ? await loadExamples({ ...common, path: task.val, limit: task.val_limit }, baseDir) : null,
    test: task.test ? await loadExamples({ ...common, path: task.test, limit: task.test_limit }, baseDir) : null,
  };
}

/** An OpenAIClient for an endpoint config; asks the server for its model id when none is configured. */
export async function chatModelFromConfig(
  ep: ModelEndpointConfig,
  baseDir: string = process.cwd(),
): Promise<ChatModel> {
  const common = {
    baseUrl: ep.base_url,
    apiKey: ep.api_key ?? undefined,
    concurrency: ep.concurrency,
    timeoutMs: ep.timeout_ms,
    retry: { maxRetries: ep.max_retries },
    cacheDir: ep.cache_dir ? resolve(baseDir, ep.cache_dir) : undefined,
    defaults: ep.max_tokens ? { maxTokens: ep.max_tokens } : undefined,
  };
  let model = ep.model;
  if (!model) {
    const ids = await new OpenAIClient({ ...common, model: 'unused' }).listModels();
    if (ids.length === 0)
      throw new GrpoError('config', `${ep.base_url}/models lists no models; set model in the config`);
    model = ids[0];
  }
  return new OpenAIClient({ ...common, model });
}

/** A copy of a config safe to write into a run folder: every api_key replaced by "***". */
export function redactSecrets<T>(config: T): T {
  return JSON.parse(
    JSON.stringify(config, (key, value) => (key === 'api_key' && typeof value === 'string' ? '***' : value)),
  ) as T;
}
