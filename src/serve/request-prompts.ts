/**
 * The prompts of a completion request as token ids for the model, with the work one request can cause bounded before
 * it is done:
 *   - prompts × n is checked against MAX_SEQUENCES_PER_REQUEST before anything is tokenised;
 *   - text longer than the whole context can hold (MAX_CHARS_PER_TOKEN characters a token) is refused untokenised,
 *     or, when the server cuts prompts (--truncate-prompts), cut as text first (prompt.ts);
 *   - prompts are tokenised one per event-loop turn, so other requests are answered meanwhile.
 * A prompt that does not fit the context with max_tokens is a 400 in vLLM's words (vllm/entrypoints/openai/
 * serving_engine.py, _validate_input); with --truncate-prompts it is cut from the left instead, and the cut reported.
 */
import type { ChatRequest, CompletionRequest, SamplingRequest } from './request-schema.ts';
import { encodeChatPrompt, encodeCompletionPrompt, fitPrompt, MAX_CHARS_PER_TOKEN } from './prompt.ts';
import { badRequest, type ServeError } from './serve-error.ts';
import type { ServedModel } from './served-model.ts';

/** completions decoded together at most (prompts × n): bounds the KV cache one request may claim */
export const MAX_SEQUENCES_PER_REQUEST = 256;
/** OpenAI's default max_tokens for /v1/completions */
const LEGACY_DEFAULT_MAX_TOKENS = 16;

export type CompletionKind = 'chat' | 'text';

/** What the prompts of a request are checked and fitted against. */
export interface PromptLimits {
  served: ServedModel;
  /** chat max_tokens when the request sends none */
  defaultMaxTokens: number;
  /** cut prompts that do not fit from the left (--truncate-prompts) instead of refusing them */
  truncatePrompts: boolean;
  log: (line: string) => void;
}

export interface RequestPrompts {
  prompts: number[][];
  /** prompt tokens cut from the left (only with truncatePrompts) */
  truncated: number;
  maxTokens: number;
}

/** what the refusals of long prompts add to vLLM's words */
const TRUNCATE_HINT = ' (or start grpo serve with --truncate-prompts to cut long prompts from the left)';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The request's prompts, tokenised and checked (or cut) against the context, and its resolved max_tokens. */
export async function requestPrompts(
  limits: PromptLimits,
  request: { chat: ChatRequest } | { text: CompletionRequest },
): Promise<RequestPrompts> {
  const r: SamplingRequest = 'chat' in request ? request.chat : request.text;
  const count = 'chat' in request ? 1 : request.text.prompts.length;
  if (count * r.n > MAX_SEQUENCES_PER_REQUEST) {
    throw badRequest(
      'n',
      `'n': ${count} prompt(s) × n = ${r.n} is ${count * r.n} completions; at most ${MAX_SEQUENCES_PER_REQUEST} per request`,
    );
  }
  checkMaxTokens(limits.served.contextLength, r);
  const raw = 'chat' in request ? [chatTokens(limits, request.chat)] : await textTokens(limits, request.text.prompts);
  return limits.truncatePrompts
    ? cutToFit(limits, r, raw, 'chat' in request)
    : checkFit(limits, r, raw, 'chat' in request);
}

/** An explicit max_tokens must leave room for at least one prompt token. */
function checkMaxTokens(context: number, r: SamplingRequest): void {
  if (r.maxTokens === null || r.maxTokens < context) return;
  const field = r.maxTokensField;
  throw badRequest(
    field,
    `'${field}': ${r.maxTokens} leaves no room for the prompt in this model's context of ${context} tokens; ask for at most ${context - 1}`,
  );
}

function chatTokens(limits: PromptLimits, chat: ChatRequest): number[] {
  const { served } = limits;
  if (!limits.truncatePrompts) {
    const chars = chat.messages.reduce((a, m) => a + m.content.length, 0);
    refuseUnfittable(served.contextLength, chars, 'messages');
  }
  return encodeChatPrompt(served.tokenizer, chat.messages, limits.truncatePrompts ? served.contextLength : Infinity);
}

/** Each prompt in its own event-loop turn: a request of many long prompts does not hold up the others. */
async function textTokens(limits: PromptLimits, prompts: (string | number[])[]): Promise<number[][]> {
  const { served } = limits;
  const raw: number[][] = [];
  for (const [i, p] of prompts.entries()) {
    const field = prompts.length > 1 ? `prompt[${i}]` : 'prompt';
    if (typeof p === 'string' && !limits.truncatePrompts) refuseUnfittable(served.contextLength, p.length, field);
    raw.push(encodeCompletionPrompt(served.tokenizer, p, served.vocabSize, field, served.contextLength));
    if (typeof p === 'string') await nextTurn();
  }
  return raw;
}

/** Text with more characters than the context can hold in tokens is refused without tokenising it. */
function refuseUnfittable(context: number, chars: number, param: string): void {
  if (chars <= context * MAX_CHARS_PER_TOKEN) return;
  const what = param === 'messages' ? 'the messages' : param === 'prompt' ? 'the prompt' : param;
  throw badRequest(
    param,
    `This model's maximum context length is ${context} tokens. However, ${what} ${param === 'messages' ? 'have' : 'has'} ${chars} characters, more than ${context} tokens can hold (a token is at most ${MAX_CHARS_PER_TOKEN} characters). Please reduce the length of ${what}${TRUNCATE_HINT}.`,
  );
}

/** vLLM's answer to a prompt that does not fit: a 400 naming the context, the prompt and the completion. */
function contextError(context: number, promptTokens: number, maxTokens: number | null, param: string): ServeError {
  const where = param === 'messages' ? 'the messages' : param === 'prompt' ? 'the prompt' : param;
  const what = param === 'messages' ? 'messages' : 'prompt';
  const requested =
    maxTokens === null
      ? `${promptTokens} tokens in ${where}. Please reduce the length of the ${what}`
      : `${promptTokens + maxTokens} tokens (${promptTokens} in ${where}, ${maxTokens} in the completion). Please reduce the length of the ${what} or completion`;
  return badRequest(
    param,
    `This model's maximum context length is ${context} tokens. However, you requested ${requested}${TRUNCATE_HINT}.`,
  );
}

/** vLLM's rule: every prompt with max_tokens fits the context; without max_tokens, the default or the room left. */
function checkFit(limits: PromptLimits, r: SamplingRequest, raw: number[][], chat: boolean): RequestPrompts {
  const context = limits.served.contextLength;
  raw.forEach((p, i) => {
    const param = chat ? 'messages' : raw.length > 1 ? `prompt[${i}]` : 'prompt';
    if (p.length >= context || (r.maxTokens !== null && p.length + r.maxTokens > context))
      throw contextError(context, p.length, r.maxTokens, param);
  });
  const longest = Math.max(...raw.map((p) => p.length));
  return {
    prompts: raw,
    truncated: 0,
    maxTokens: r.maxTokens ?? Math.min(defaultMaxTokens(limits, chat, context), context - longest),
  };
}

/** The endpoint's max_tokens for a request that sends none: never more than half the context. */
function defaultMaxTokens(limits: PromptLimits, chat: boolean, context: number): number {
  return Math.max(1, Math.min(chat ? limits.defaultMaxTokens : LEGACY_DEFAULT_MAX_TOKENS, Math.floor(context / 2)));
}

/** --truncate-prompts: prompts cut from the left to leave room for max_tokens. */
function cutToFit(limits: PromptLimits, r: SamplingRequest, raw: number[][], chat: boolean): RequestPrompts {
  const { served } = limits;
  const context = served.contextLength;
  const maxTokens = r.maxTokens ?? defaultMaxTokens(limits, chat, context);
  const fitted = raw.map((p) => fitPrompt(p, context - maxTokens, served.bosId));
  const truncated = fitted.reduce((a, f) => a + f.truncated, 0);
  if (truncated > 0) {
    limits.log(
      `prompt of ${raw.map((p) => p.length).join(' + ')} tokens cut by ${truncated} from the left to fit the context of ${context} with max_tokens ${maxTokens}`,
    );
  }
  return { prompts: fitted.map((f) => f.tokens), truncated, maxTokens };
}
