/**
 * Request bodies of POST /v1/chat/completions and POST /v1/completions, validated into one normalised form.
 * Field names and meanings follow the OpenAI API reference (platform.openai.com/docs/api-reference/chat/create,
 * …/completions/create) plus vLLM's sampling extensions `top_k` and `min_p`. `null` means "unset", as OpenAI
 * clients send it. Unknown fields are ignored (as OpenAI-compatible servers do), except options that would
 * silently change the result and that this server does not implement: those are a 400 naming the field.
 */
import { z } from 'zod';
import { badRequest } from './serve-error.ts';

const MAX_STOP_STRINGS = 16;
export const MAX_TOP_LOGPROBS = 20;

/** OpenAI sampling options shared by both endpoints. */
const samplingFields = {
  model: z.string().nullish(),
  // vLLM extension: log-prob tokens as "token_id:<id>", so an RL trainer gets the exact sampled ids
  return_tokens_as_token_ids: z.boolean().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  // vLLM: top_k -1 (or 0) = off
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  // vLLM extension: keep generating past the end-of-sequence token, up to max_tokens (load tests, benchmarks)
  ignore_eos: z.boolean().nullish(),
  // vLLM extension: the text (and tokens) of a completion a stop string ended run through the stop string (multi-turn tool calls)
  include_stop_str_in_output: z.boolean().nullish(),
  stop: z
    .union(
      [
        z.string().min(1, { error: 'must not be empty' }),
        z.array(z.string().min(1, { error: 'must not be empty' })).max(MAX_STOP_STRINGS),
      ],
      { error: `must be a non-empty string or an array of at most ${MAX_STOP_STRINGS} non-empty strings` },
    )
    .nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // accepted only at their neutral values (see rejectUnsupported)
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
};

const textPart = z.object({
  type: z.literal('text', { error: "only content parts of type 'text' are supported" }),
  text: z.string(),
});

const chatMessage = z.object({
  role: z.string().min(1),
  // a string, an array of text parts, or null (an assistant turn that only called tools)
  content: z
    .union([z.string(), z.array(textPart)], { error: 'must be a string or an array of {type: "text", text} parts' })
    .nullish(),
});

const chatSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessage).min(1, { error: 'must hold at least one message' }),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  tools: z.array(z.unknown()).nullish(),
  response_format: z.object({ type: z.string() }).nullish(),
});

const tokenIds = z.array(z.number().int().min(0, { error: 'token ids are non-negative integers' }));
const completionSchema = z.object({
  ...samplingFields,
  // a string, strings, token ids, or lists of token ids
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)], {
    error: 'must be a string, an array of strings, an array of token ids, or an array of token-id arrays',
  }),
  // legacy integer: alternatives per position (0 = the sampled token only)
  logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  best_of: z.number().int().min(1).nullish(),
});

export interface SamplingRequest {
  /** the model the client named, if any */
  model: string | null;
  n: number;
  /** null: the endpoint's default, capped by the context */
  maxTokens: number | null;
  /** the field maxTokens came from (max_tokens or max_completion_tokens), for error messages */
  maxTokensField: string;
  temperature: number;
  topP: number;
  /** 0 = off */
  topK: number;
  minP: number;
  seed: number | null;
  /** vLLM ignore_eos: the end-of-sequence token does not end a completion */
  ignoreEos: boolean;
  stop: string[];
  /** vLLM include_stop_str_in_output: keep the stop string that ended a completion */
  includeStop: boolean;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with usage */
  streamUsage: boolean;
  /** return per-token log-probs */
  logprobs: boolean;
  /** write log-prob tokens as "token_id:<id>" (vLLM return_tokens_as_token_ids) */
  tokensAsIds: boolean;
  /** alternatives per position (0 = none) */
  topLogprobs: number;
}

/**
 * A completion request as the served model decodes it: its sampling settings, with max_tokens and the seed resolved
 * (the endpoint's default, the server's next seed).
 */
export type ServedRequest = Pick<
  SamplingRequest,
  'n' | 'temperature' | 'topP' | 'topK' | 'minP' | 'stop' | 'logprobs' | 'topLogprobs'
> &
  Partial<Pick<SamplingRequest, 'tokensAsIds' | 'ignoreEos' | 'includeStop'>> & {
    maxTokens: number;
    seed: number;
  };

export interface ChatRequest extends SamplingRequest {
  messages: { role: string; content: string }[];
}

export interface CompletionRequest extends SamplingRequest {
  /** one entry per prompt: text, or token ids */
  prompts: (string | number[])[];
}

/** `messages.0.content` → `messages[0].content`, as OpenAI names fields in its errors. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)),
    '',
  );
}

function validated<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw badRequest(null, 'the request body must be a JSON object');
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = fieldName(issue.path);
  const message = / received undefined$/.test(issue.message)
    ? 'is required'
    : issue.message.replace(/^(Invalid input|Too big|Too small): /, '');
  throw badRequest(name || null, `'${name}': ${message}`);
}

type CommonInput = { [K in keyof typeof samplingFields]?: z.infer<(typeof samplingFields)[K]> };

function rejectUnsupported(b: CommonInput): void {
  if (b.frequency_penalty)
    throw badRequest('frequency_penalty', `'frequency_penalty': not supported by this server (send 0 or leave it out)`);
  if (b.presence_penalty)
    throw badRequest('presence_penalty', `'presence_penalty': not supported by this server (send 0 or leave it out)`);
  if (b.logit_bias && Object.keys(b.logit_bias).length > 0)
    throw badRequest('logit_bias', `'logit_bias': not supported by this server`);
}

function common(
  b: CommonInput,
  maxTokens: number | null | undefined,
  maxTokensField = 'max_tokens',
): Omit<SamplingRequest, 'logprobs' | 'topLogprobs'> {
  rejectUnsupported(b);
  return {
    model: b.model ?? null,
    n: b.n ?? 1,
    maxTokens: maxTokens ?? null,
    maxTokensField,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    topK: b.top_k === undefined || b.top_k === null || b.top_k < 0 ? 0 : b.top_k,
    minP: b.min_p ?? 0,
    seed: b.seed ?? null,
    ignoreEos: b.ignore_eos ?? false,
    stop: b.stop === undefined || b.stop === null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop,
    includeStop: b.include_stop_str_in_output ?? false,
    stream: b.stream ?? false,
    streamUsage: b.stream_options?.include_usage ?? false,
    tokensAsIds: b.return_tokens_as_token_ids ?? false,
  };
}

export function parseChatRequest(body: unknown): ChatRequest {
  const b = validated(chatSchema, body);
  if (b.tools && b.tools.length > 0) throw badRequest('tools', `'tools': tool calling is not supported by this server`);
  if (b.response_format && b.response_format.type !== 'text')
    throw badRequest('response_format', `'response_format': only type 'text' is supported`);
  if (b.top_logprobs && !b.logprobs) throw badRequest('top_logprobs', `'top_logprobs' needs 'logprobs': true`);
  return {
    ...common(
      b,
      b.max_completion_tokens ?? b.max_tokens,
      b.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    ),
    logprobs: b.logprobs ?? false,
    topLogprobs: b.top_logprobs ?? 0,
    messages: b.messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
    })),
  };
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const b = validated(completionSchema, body);
  if (b.echo) throw badRequest('echo', `'echo': not supported by this server`);
  if (b.suffix) throw badRequest('suffix', `'suffix': not supported by this server`);
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== (b.n ?? 1))
    throw badRequest('best_of', `'best_of': only best_of = n is supported`);
  const p = b.prompt;
  const prompts: (string | number[])[] =
    typeof p === 'string'
      ? [p]
      : p.every((x) => typeof x === 'number')
        ? [p as number[]]
        : (p as (string | number[])[]);
  return {
    ...common(b, b.max_tokens),
    logprobs: b.logprobs !== undefined && b.logprobs !== null,
    topLogprobs: b.logprobs ?? 0,
    prompts,
  };
}

/**
 * POST /update_weights_from_disk, SGLang's `UpdateWeightFromDiskReqInput` (sglang/srt/managers/io_struct.py):
 * `model_path` (required) and `load_format` (null = auto). SGLang's other fields (flush_cache, weight_version,
 * abort_all_requests, …) are accepted and ignored: this server keeps no prefix cache and aborts nothing, and a
 * reload simply waits its turn in the request queue.
 */
const updateWeightsSchema = z.object({
  model_path: z.string().regex(/\S/, { error: 'must be a non-empty path' }),
  load_format: z.string().nullish(),
});

export interface UpdateWeightsRequest {
  modelPath: string;
  /** null: 'auto' */
  loadFormat: string | null;
}

export function parseUpdateWeightsRequest(body: unknown): UpdateWeightsRequest {
  const b = validated(updateWeightsSchema, body);
  return { modelPath: b.model_path, loadFormat: b.load_format ?? null };
}
