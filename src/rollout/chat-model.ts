/**
 * The one seam between training-free methods (Training-Free GRPO, GEPA) and whatever produces text.
 * `OpenAIClient` implements it over HTTP; tests implement it with a scripted, deterministic function.
 * Field names follow the OpenAI API where one exists (finishReason ↔ finish_reason, topLogprobs ↔ top_logprobs).
 */
import { GrpoError } from '../errors.ts';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Sampling options shared by chat and text completions. Unset = the server's default. */
export interface GenerationOptions {
  /** completions to sample for this one request (OpenAI `n`) */
  n?: number;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** up to 4 stop strings (OpenAI's limit; other servers accept more) */
  stop?: string[];
  /** return the log-prob of each sampled token */
  logprobs?: boolean;
  /** also return this many alternatives per position (needs `logprobs`) */
  topLogprobs?: number;
  /** server-side sampling seed, for reproducible sampling where the server honours it */
  seed?: number;
  /** further request fields for servers that take them (vLLM / SGLang: top_k, min_p, return_tokens_as_token_ids) */
  extra?: Record<string, unknown>;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  /** the most likely alternatives at this position, best first (when `topLogprobs` was asked for) */
  topLogprobs?: { token: string; logprob: number }[];
}

/** 'stop' (natural end or stop string), 'length' (hit maxTokens), or whatever else the server reports. */
export type FinishReason = 'stop' | 'length' | (string & {});

export interface GenerationChoice {
  text: string;
  finishReason: FinishReason;
  logprobs?: TokenLogprob[];
}

export interface GenerationUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerationResult {
  /** one per sample, in the server's `index` order */
  choices: GenerationChoice[];
  usage?: GenerationUsage;
  /** true when the answer came from the client's cache rather than the server */
  cached?: boolean;
  /** the policy version that sampled it (a fleet of rollout servers: the trainer's versions) */
  policyVersion?: number;
}

/** Anything that answers a conversation. Training-free methods depend on this and nothing more. */
export interface ChatModel {
  /** for logs and run records: e.g. "qwen3-8b @ http://127.0.0.1:8000/v1" */
  readonly name: string;
  chat(messages: readonly ChatMessage[], opts?: GenerationOptions): Promise<GenerationResult>;
}

/** What token-id rollouts need of a server (remote-generate.ts, remote-episodes.ts): an OpenAIClient, or a fleet. */
export interface TokenCompleter {
  complete(prompt: readonly number[], opts?: GenerationOptions): Promise<GenerationResult>;
}

/** A ChatModel from a plain function: for tests, scripted models and in-process adapters. */
export function chatModelFromFunction(
  name: string,
  fn: (
    messages: readonly ChatMessage[],
    opts: GenerationOptions,
  ) => GenerationResult | Promise<GenerationResult> | string | Promise<string>,
): ChatModel {
  return {
    name,
    async chat(messages, opts = {}) {
      const out = await fn(messages, opts);
      if (typeof out !== 'string') return out;
      return { choices: Array.from({ length: opts.n ?? 1 }, () => ({ text: out, finishReason: 'stop' })) };
    },
  };
}

/**
 * Samples `n` completions, topping up with further requests when a server returns fewer choices than asked
 * (llama.cpp's server, for one, ignores `n`). Seeds, when given, advance per extra request so samples differ.
 */
export async function sampleCompletions(
  model: ChatModel,
  messages: readonly ChatMessage[],
  n: number,
  opts: GenerationOptions = {},
): Promise<GenerationChoice[]> {
  const out: GenerationChoice[] = [];
  let request = 0;
  while (out.length < n) {
    const want = n - out.length;
    const seed = opts.seed === undefined ? undefined : opts.seed + request;
    const res = await model.chat(messages, { ...opts, n: want, seed });
    if (res.choices.length === 0)
      throw new GrpoError(
        'generation',
        `${model.name} returned no choices for a request with n=${want}; check that the server supports this model and request`,
      );
    out.push(...res.choices.slice(0, want));
    request++;
  }
  return out;
}
