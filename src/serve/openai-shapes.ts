/**
 * Response bodies in OpenAI's shapes, from finished choices:
 * - chat.completion and chat.completion.chunk (platform.openai.com/docs/api-reference/chat/object, …/streaming),
 *   log-probs as `logprobs.content[] = {token, logprob, bytes, top_logprobs[]}`;
 * - text_completion, whole or as stream chunks (…/completions/object), log-probs in the legacy form
 *   `{tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}`.
 * Streaming sends each choice token by token as its text becomes final: a role chunk, one chunk per token (its
 * text and, when asked, its log-probs), a chunk with the finish reason, then (stream_options.include_usage) a usage
 * chunk.
 */
import type { ServedChoice, TokenLogprob } from './served-choices.ts';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  usage: Usage;
  /** prompt tokens cut to fit the context, summed over prompts (a grpo serve extension; absent when 0) */
  truncatedPromptTokens: number;
}

export type Json = Record<string, unknown>;

export function usageOf(promptTokens: number, choices: readonly ServedChoice[]): Usage {
  const completion = choices.reduce((a, c) => a + c.completionTokens, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
}

function chatLogprobEntry(t: TokenLogprob): Json {
  return {
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes,
    top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })),
  };
}

/** legacy `{token: logprob}`: two tokens with the same text share a key, the more likely one keeps it */
function alternativesByText(t: TokenLogprob): Record<string, number> {
  const out = new Map<string, number>();
  for (const a of t.top) if (!out.has(a.token)) out.set(a.token, a.logprob);
  return Object.fromEntries(out);
}

function legacyLogprobs(tokens: readonly TokenLogprob[], offsets: readonly number[], withTop: boolean): Json {
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: withTop ? tokens.map((t) => alternativesByText(t)) : null,
    text_offset: offsets.slice(0, tokens.length),
  };
}

function extension(meta: ResponseMeta): Json {
  return meta.truncatedPromptTokens > 0 ? { truncated_prompt_tokens: meta.truncatedPromptTokens } : {};
}

export function chatCompletionBody(meta: ResponseMeta, choices: readonly ServedChoice[]): Json {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: choices.map((c) => ({
      index: c.index,
      message: { role: 'assistant', content: c.text },
      logprobs: c.logprobs ? { content: c.logprobs.map(chatLogprobEntry) } : null,
      finish_reason: c.finishReason,
    })),
    usage: meta.usage,
    ...extension(meta),
  };
}

export function textCompletionBody(meta: ResponseMeta, choices: readonly ServedChoice[], topLogprobs: number): Json {
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: choices.map((c) => ({
      index: c.index,
      text: c.text,
      logprobs: c.logprobs ? legacyLogprobs(c.logprobs, c.offsets, topLogprobs > 0) : null,
      finish_reason: c.finishReason,
    })),
    usage: meta.usage,
    ...extension(meta),
  };
}

/** What every chunk of one stream repeats. */
export interface StreamHead {
  id: string;
  created: number;
  model: string;
}

/**
 * The chat.completion.chunk objects that send pieces [from, to) of a choice — a role chunk first when from is 0 —
 * and its finish-reason chunk when `finished`. A stream sends each choice's pieces in order, as they become final.
 */
export function chatChoiceChunks(
  head: StreamHead,
  c: ServedChoice,
  from: number,
  to: number,
  finished: boolean,
  includeUsage: boolean,
): Json[] {
  const chunk = (delta: Json, logprobs: Json | null, finish: string | null): Json => ({
    id: head.id,
    object: 'chat.completion.chunk',
    created: head.created,
    model: head.model,
    choices: [{ index: c.index, delta, logprobs, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const out: Json[] = from === 0 ? [chunk({ role: 'assistant', content: '' }, null, null)] : [];
  for (let i = from; i < to; i++) {
    const lp = c.logprobs ? { content: [chatLogprobEntry(c.logprobs[i])] } : null;
    if (c.pieces[i] !== '' || lp) out.push(chunk({ content: c.pieces[i] }, lp, null));
  }
  if (finished) out.push(chunk({}, null, c.finishReason));
  return out;
}

/** The text_completion chunks that send pieces [from, to) of a choice, and its finish chunk when `finished`. */
export function textChoiceChunks(
  head: StreamHead,
  c: ServedChoice,
  from: number,
  to: number,
  finished: boolean,
  topLogprobs: number,
  includeUsage: boolean,
): Json[] {
  const chunk = (text: string, logprobs: Json | null, finish: string | null): Json => ({
    id: head.id,
    object: 'text_completion',
    created: head.created,
    model: head.model,
    choices: [{ index: c.index, text, logprobs, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const out: Json[] = [];
  for (let i = from; i < to; i++) {
    const lp = c.logprobs ? legacyLogprobs([c.logprobs[i]], [c.offsets[i]], topLogprobs > 0) : null;
    if (c.pieces[i] !== '' || lp) out.push(chunk(c.pieces[i], lp, null));
  }
  if (finished) out.push(chunk('', null, c.finishReason));
  return out;
}

/** The last chunk of a stream with stream_options.include_usage: no choices, the usage. */
export function usageChunk(kind: 'chat' | 'text', meta: ResponseMeta): Json {
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [],
    usage: meta.usage,
    ...extension(meta),
  };
}

/** Every chunk of a stream of finished choices, in order ([DONE] is the transport's). */
export function chatCompletionChunks(
  meta: ResponseMeta,
  choices: readonly ServedChoice[],
  includeUsage: boolean,
): Json[] {
  const out = choices.flatMap((c) => chatChoiceChunks(meta, c, 0, c.pieces.length, true, includeUsage));
  return includeUsage ? [...out, usageChunk('chat', meta)] : out;
}

/** The text_completion chunks of a stream of finished choices, in order. */
export function textCompletionChunks(
  meta: ResponseMeta,
  choices: readonly ServedChoice[],
  topLogprobs: number,
  includeUsage: boolean,
): Json[] {
  const out = choices.flatMap((c) => textChoiceChunks(meta, c, 0, c.pieces.length, true, topLogprobs, includeUsage));
  return includeUsage ? [...out, usageChunk('text', meta)] : out;
}

/** GET /v1/models entry (…/models/object), plus the context length as vLLM reports it. */
export function modelObject(name: string, created: number, contextLength: number): Json {
  return { id: name, object: 'model', created, owned_by: 'grpo-ts', max_model_len: contextLength };
}
