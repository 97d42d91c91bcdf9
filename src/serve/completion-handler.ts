/**
 * POST /v1/chat/completions and POST /v1/completions: validate the body, build and fit the prompts, wait for
 * the model's turn, then answer with one JSON body or a server-sent event stream.
 *
 * The decoder takes one step per event-loop turn (ContinuousBatcher), so other routes keep answering, a client that
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
  type Json,
  type ResponseMeta,
  type StreamHead,
} from './openai-shapes.ts';
import { requestPrompts, type CompletionKind } from './request-prompts.ts';
import { parseChatRequest, parseCompletionRequest, type SamplingRequest } from './request-schema.ts';
import { ServeError } from './serve-error.ts';
import type { SerialQueue } from './serial-queue.ts';
import type { ContinuousBatcher } from './continuous-batcher.ts';
import type { ServeMetrics } from './serve-metrics.ts';
import type { ServedModel } from './served-model.ts';
import type { ServedChoice } from './served-choices.ts';

/** response header (and body field `truncated_prompt_tokens`) reporting prompt tokens cut to fit the context */
export const TRUNCATION_HEADER = 'x-truncated-prompt-tokens';

export interface HandlerContext {
  served: ServedModel;
  /** jobs on the model, one at a time: batches of completions, weight and adapter loads */
  queue: SerialQueue;
  /** completion requests, decoded in batches with those that can join them */
  batcher: ContinuousBatcher;
  /** what GET /metrics reports */
  metrics: ServeMetrics;
  /** chat max_tokens when the request sends none */
  defaultMaxTokens: number;
  /** cut prompts that do not fit the context from the left instead of answering 400 (--truncate-prompts) */
  truncatePrompts: boolean;
  /** whether clients may load weights and adapters from paths they name (--allow-runtime-updates) */
  allowRuntimeUpdates: boolean;
  /** a sampling seed for a request that sends none */
  nextSeed: () => number;
  /** true once the server is closing: queued requests are turned away */
  closing: () => boolean;
  log: (line: string) => void;
}

/** 404 for a model the server does not serve (OpenAI answers model_not_found the same way). */
export function checkModelName(served: ServedModel, model: string | null): void {
  if (model !== null && !served.serves(model))
    throw new ServeError(
      'model_not_found',
      `'model': this server serves '${[served.name, ...served.adapterNames].join("', '")}', not '${model}' (GET /v1/models lists them)`,
      'model',
    );
}

/** The chunks that send pieces [from, to) of a choice, and its finish chunk when `finished`. */
type ChunksOf = (c: ServedChoice, from: number, to: number, finished: boolean) => Json[];

/** A client that disconnects before its answer is complete stops its generation at the next step. */
function abortedOnClose(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

function choiceChunks(kind: CompletionKind, head: StreamHead, r: SamplingRequest): ChunksOf {
  return (c, from, to, finished) =>
    kind === 'chat'
      ? chatChoiceChunks(head, c, from, to, finished, r.streamUsage)
      : textChoiceChunks(head, c, from, to, finished, r.topLogprobs, r.streamUsage);
}

/** A streamed answer's choices: each choice's pieces are sent as they become final, the rest once it finished. */
class StreamedChoices {
  /** per choice index, the pieces sent so far */
  private readonly sent = new Map<number, number>();

  constructor(
    private readonly stream: EventStream,
    private readonly chunksOf: ChunksOf,
  ) {}

  /** After a decoding step: what became final of each running choice (a choice's first chunk as soon as it runs). */
  sendFinal(running: { choice: ServedChoice; final: number }[]): void {
    for (const { choice, final } of running) {
      const from = this.sent.get(choice.index) ?? 0;
      if (final > from || (from === 0 && !this.sent.has(choice.index)))
        this.stream.send(this.chunksOf(choice, from, final, false));
      this.sent.set(choice.index, Math.max(from, final));
    }
  }

  /** The finished choices' remaining pieces, then `last` and the end of the stream. */
  end(choices: readonly ServedChoice[], last: Json[]): void {
    for (const c of choices) this.stream.send(this.chunksOf(c, this.sent.get(c.index) ?? 0, c.pieces.length, true));
    this.stream.end(last);
  }
}

export async function handleCompletion(
  ctx: HandlerContext,
  kind: CompletionKind,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const arrivedAt = performance.now();
  const gone = abortedOnClose(res);
  const body = await readJsonBody(req);
  const served = ctx.served;
  const chat = kind === 'chat' ? parseChatRequest(body) : null;
  const text = kind === 'text' ? parseCompletionRequest(body) : null;
  const r: SamplingRequest = (chat ?? text)!;
  checkModelName(served, r.model);
  const { prompts, truncated, maxTokens } = await requestPrompts(ctx, chat ? { chat } : { text: text! });
  const seed = r.seed ?? ctx.nextSeed();
  const head = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model: r.model ?? served.name,
  };
  const headers: Record<string, string> = truncated > 0 ? { [TRUNCATION_HEADER]: String(truncated) } : {};
  const events = r.stream ? new EventStream(res, headers) : null;
  const stream = events ? new StreamedChoices(events, choiceChunks(kind, head, r)) : null;
  // top_logprobs need a scoring pass after the generation, so such a stream sends its pieces at the end
  const onStep = stream && !(r.logprobs && r.topLogprobs > 0) ? stream.sendFinal.bind(stream) : undefined;

  let choices: ServedChoice[] | null;
  try {
    choices = await ctx.batcher.submit(prompts, { ...r, maxTokens, seed }, r.model, {
      signal: gone,
      onStep,
      arrivedAt,
    });
  } catch (e) {
    // once the stream has begun, an error is its last event (as vLLM sends one); before that, a JSON error
    if (events?.started) return events.fail(e);
    throw e;
  }
  if (choices === null || gone.aborted) return;

  const meta: ResponseMeta = {
    ...head,
    // a prompt is counted once however many samples it has
    usage: usageOf(
      prompts.reduce((a, p) => a + p.length, 0),
      choices,
    ),
    truncatedPromptTokens: truncated,
  };
  if (stream) stream.end(choices, r.streamUsage ? [usageChunk(chat ? 'chat' : 'text', meta)] : []);
  else
    sendJson(
      res,
      200,
      chat ? chatCompletionBody(meta, choices) : textCompletionBody(meta, choices, r.topLogprobs),
      headers,
    );
}
