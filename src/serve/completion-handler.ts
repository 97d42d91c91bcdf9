/**
 * POST /v1/chat/completions and POST /v1/completions: validate the body, build and fit the prompts, wait for
 * the engine's turn, then answer with one JSON body or a server-sent event stream.
 *
 * The engine decodes one step per event-loop turn (ServedModel.run), so other routes keep answering, a client that
 * disconnects stops its generation, and a stream sends each token's chunk as soon as its text is final. The chunks
 * concatenate to exactly the non-streamed text; an error after the stream began is its last event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readJsonBody, sendJson, EventStream } from './http-io.ts';
import {
  chatCompletionBody,
  chatChoiceChunks,
  textCompletionBody,
  textChoiceChunks,
  usageChunk,
  usageOf,
  type ResponseMeta,
} from './openai-shapes.ts';
import { encodeChatPrompt, encodeCompletionPrompt, fitPrompt } from './prompt.ts';
import { parseChatRequest, parseCompletionRequest, type SamplingRequest } from './request-schema.ts';
import { ServeError, badRequest } from './serve-error.ts';
import type { SerialQueue } from './serial-queue.ts';
import type { ContinuousBatcher } from './continuous-batcher.ts';
import type { ServedModel, ServedChoice } from './served-model.ts';

/** completions decoded together at most (prompts × n): bounds the KV cache one request may claim */
export const MAX_SEQUENCES_PER_REQUEST = 256;
/** OpenAI's default max_tokens for /v1/completions */
const LEGACY_DEFAULT_MAX_TOKENS = 16;
/** response header (and body field `truncated_prompt_tokens`) reporting prompt tokens cut to fit the context */
export const TRUNCATION_HEADER = 'x-truncated-prompt-tokens';

export interface HandlerContext {
  served: ServedModel;
  /** jobs on the model, one at a time: batches of completions, weight and adapter loads */
  queue: SerialQueue;
  /** completion requests, decoded in batches with those that can join them */
  batcher: ContinuousBatcher;
  /** chat max_tokens when the request sends none */
  defaultMaxTokens: number;
  /** a sampling seed for a request that sends none */
  nextSeed: () => number;
  /** true once the server is closing: queued requests are turned away */
  closing: () => boolean;
  log: (line: string) => void;
}

export type CompletionKind = 'chat' | 'text';

/** 404 for a model the server does not serve (OpenAI answers model_not_found the same way). */
export function checkModelName(served: ServedModel, model: string | null): void {
  if (model !== null && !served.serves(model))
    throw new ServeError(
      'model_not_found',
      `'model': this server serves '${[served.name, ...served.adapterNames].join("', '")}', not '${model}' (GET /v1/models lists them)`,
      'model',
    );
}

function maxTokensFor(ctx: HandlerContext, r: SamplingRequest, kind: CompletionKind): number {
  const context = ctx.served.contextLength;
  if (r.maxTokens !== null) {
    if (r.maxTokens >= context) {
      const field = r.maxTokensField;
      throw badRequest(
        field,
        `'${field}': ${r.maxTokens} leaves no room for the prompt in this model's context of ${context} tokens; ask for at most ${context - 1}`,
      );
    }
    return r.maxTokens;
  }
  return Math.max(
    1,
    Math.min(kind === 'chat' ? ctx.defaultMaxTokens : LEGACY_DEFAULT_MAX_TOKENS, Math.floor(context / 2)),
  );
}

export async function handleCompletion(
  ctx: HandlerContext,
  kind: CompletionKind,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // a client that disconnects before its answer is complete stops its generation at the next step
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const body = await readJsonBody(req);
  const served = ctx.served;
  const chat = kind === 'chat' ? parseChatRequest(body) : null;
  const text = kind === 'text' ? parseCompletionRequest(body) : null;
  const r: SamplingRequest = (chat ?? text)!;
  checkModelName(served, r.model);
  const maxTokens = maxTokensFor(ctx, r, kind);

  const raw = chat
    ? [encodeChatPrompt(served.tokenizer, chat.messages, served.contextLength)]
    : text!.prompts.map((p, i) =>
        encodeCompletionPrompt(
          served.tokenizer,
          p,
          served.vocabSize,
          text!.prompts.length > 1 ? `prompt[${i}]` : 'prompt',
          served.contextLength,
        ),
      );
  if (raw.length * r.n > MAX_SEQUENCES_PER_REQUEST) {
    throw badRequest(
      'n',
      `'n': ${raw.length} prompt(s) × n = ${r.n} is ${raw.length * r.n} completions; at most ${MAX_SEQUENCES_PER_REQUEST} per request`,
    );
  }
  const fitted = raw.map((p) => fitPrompt(p, served.contextLength - maxTokens, served.bosId));
  const truncated = fitted.reduce((a, f) => a + f.truncated, 0);
  if (truncated > 0) {
    ctx.log(
      `prompt of ${raw.map((p) => p.length).join(' + ')} tokens cut by ${truncated} from the left to fit the context of ${served.contextLength} with max_tokens ${maxTokens}`,
    );
  }
  const prompts = fitted.map((f) => f.tokens);
  const seed = r.seed ?? ctx.nextSeed();
  const head = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model: r.model ?? served.name,
  };
  const headers: Record<string, string> = truncated > 0 ? { [TRUNCATION_HEADER]: String(truncated) } : {};
  const chunksOf = (c: ServedChoice, from: number, to: number, finished: boolean) =>
    chat
      ? chatChoiceChunks(head, c, from, to, finished, r.streamUsage)
      : textChoiceChunks(head, c, from, to, finished, r.topLogprobs, r.streamUsage);
  // a stream sends each choice's pieces as they become final; top_logprobs need a scoring pass after the
  // generation, so such a stream sends its pieces at the end
  const stream = r.stream ? new EventStream(res, headers) : null;
  const sent = new Map<number, number>();
  const onStep =
    stream && !(r.logprobs && r.topLogprobs > 0)
      ? (running: { choice: ServedChoice; final: number }[]) => {
          for (const { choice, final } of running) {
            const from = sent.get(choice.index) ?? 0;
            if (final > from || (from === 0 && !sent.has(choice.index)))
              stream.send(chunksOf(choice, from, final, false));
            sent.set(choice.index, Math.max(from, final));
          }
        }
      : undefined;

  let choices: ServedChoice[] | null;
  try {
    choices = await ctx.batcher.submit(prompts, { ...r, maxTokens, seed }, r.model, { signal: gone.signal, onStep });
  } catch (e) {
    // once the stream has begun, an error is its last event (as vLLM sends one); before that, a JSON error
    if (stream?.started) return stream.fail(e);
    throw e;
  }
  if (choices === null || gone.signal.aborted) return;

  const meta: ResponseMeta = {
    ...head,
    // a prompt is counted once however many samples it has
    usage: usageOf(
      prompts.reduce((a, p) => a + p.length, 0),
      choices,
    ),
    truncatedPromptTokens: truncated,
  };
  if (stream) {
    for (const c of choices) stream.send(chunksOf(c, sent.get(c.index) ?? 0, c.pieces.length, true));
    stream.end(r.streamUsage ? [usageChunk(chat ? 'chat' : 'text', meta)] : []);
  } else {
    sendJson(
      res,
      200,
      chat ? chatCompletionBody(meta, choices) : textCompletionBody(meta, choices, r.topLogprobs),
      headers,
    );
  }
}
