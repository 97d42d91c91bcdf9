/**
 * LLM-as-judge reward through any OpenAI-compatible /chat/completions endpoint (vLLM, SGLang,
 * llama.cpp server, hosted APIs). Requests are concurrency-limited, retried with exponential back-off
 * on network errors, 429 and 5xx (honouring Retry-After), and cached in memory and optionally on disk,
 * keyed by the SHA-256 of the exact request, so a re-run or a repeated completion costs nothing.
 */
import pLimit from 'p-limit';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RewardFn, Sample } from './types.ts';
import { GrpoError } from '../errors.ts';

export interface JudgeMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface JudgeOptions {
  /** Base URL ending before /chat/completions, e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  model: string;
  /** Sent as a Bearer token when given. */
  apiKey?: string;
  /** Builds the judge's messages for one completion. Default: a correctness check against sample.answer. */
  buildMessages?: (completion: string, sample: Sample) => JudgeMessage[];
  /** Turns the judge's reply into a reward. Default: 1 for a final "CORRECT", 0 for "INCORRECT". */
  parseScore?: (reply: string) => number;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First back-off delay in ms, doubled each retry. Default 500. */
  backoffMs?: number;
  /** Per-request timeout in ms. Default 60 000. */
  timeoutMs?: number;
  temperature?: number;
  maxTokens?: number;
  /** Directory for the on-disk cache (one JSON file per request); omit for memory only. */
  cacheDir?: string;
  /** fetch implementation (tests, proxies). Default globalThis.fetch. */
  fetch?: typeof fetch;
}

const DEFAULT_SYSTEM =
  'You grade answers. Compare the response with the reference answer. Reply with one word: CORRECT if the response reaches the same final answer, otherwise INCORRECT.';

export function defaultJudgeMessages(completion: string, sample: Sample): JudgeMessage[] {
  const question =
    typeof sample.prompt === 'string' ? sample.prompt : typeof sample.question === 'string' ? sample.question : '';
  const reference = sample.answer === undefined ? '' : String(sample.answer);
  return [
    { role: 'system', content: DEFAULT_SYSTEM },
    { role: 'user', content: `Question:\n${question}\n\nReference answer:\n${reference}\n\nResponse:\n${completion}` },
  ];
}

/** 1 when the reply's last verdict word is CORRECT, 0 for INCORRECT; throws when there is none. */
export function parseCorrectIncorrect(reply: string): number {
  const words = reply.toUpperCase().match(/\b(?:INCORRECT|CORRECT)\b/g);
  if (!words)
    throw new GrpoError(
      'reward',
      `judge: reply has no CORRECT/INCORRECT verdict: ${JSON.stringify(reply.slice(0, 200))}`,
    );
  return words[words.length - 1] === 'CORRECT' ? 1 : 0;
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface JudgeClient {
  /** The judge's reply text for these messages (cached). */
  complete(messages: JudgeMessage[]): Promise<string>;
  /** Requests actually sent over the network (not answered from a cache), retries included. */
  readonly requestsSent: number;
}

/** Where and how requests go: the endpoint's URL, the fetch that sends them, their key and timeout. */
interface JudgeEndpoint {
  url: string;
  fetch: typeof fetch;
  apiKey?: string;
  timeoutMs: number;
}

/** One POST of `body`; network errors, 429 and 5xx throw a RetryableError (with Retry-After when the server gave one). */
async function postChatCompletion(endpoint: JudgeEndpoint, body: string): Promise<string> {
  const { url } = endpoint;
  let res: Response;
  try {
    res = await endpoint.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
      },
      body,
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
  } catch (e) {
    throw new RetryableError(`judge: request to ${url} failed: ${(e as Error).message}`);
  }
  if (res.status === 429 || res.status >= 500) {
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new RetryableError(
      `judge: ${url} answered ${res.status}`,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    );
  }
  if (!res.ok)
    throw new GrpoError('reward', `judge: ${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const json = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
  const content = json.choices?.[0]?.message?.content;
  if (typeof content !== 'string')
    throw new GrpoError('reward', `judge: ${url} returned no choices[0].message.content`);
  return content;
}

/** `attempt` until it succeeds, at most `retries` times more after a RetryableError, backing off exponentially. */
async function withRetries(attempt: () => Promise<string>, retries: number, backoffMs: number): Promise<string> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof RetryableError) || n >= retries)
        throw e instanceof RetryableError ? new GrpoError('reward', `${e.message} (after ${n + 1} attempts)`) : e;
      await sleep(e.retryAfterMs ?? backoffMs * 2 ** n);
    }
  }
}

/** The cached reply for `key` in `cacheDir`; null when there is no cache, no entry or an unreadable one. */
async function readCachedReply(cacheDir: string | undefined, key: string): Promise<string | null> {
  if (!cacheDir) return null;
  try {
    return (JSON.parse(await readFile(join(cacheDir, `${key}.json`), 'utf8')) as { reply: string }).reply;
  } catch {
    return null;
  }
}

async function writeCachedReply(cacheDir: string | undefined, key: string, reply: string): Promise<void> {
  if (!cacheDir) return;
  await mkdir(cacheDir, { recursive: true });
  const path = join(cacheDir, `${key}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ reply }));
  await rename(tmp, path); // atomic, so a concurrent reader never sees half a file
}

export function createJudgeClient(opts: JudgeOptions): JudgeClient {
  const endpoint: JudgeEndpoint = {
    url: opts.baseUrl.replace(/\/+$/, '') + '/chat/completions',
    fetch: opts.fetch ?? globalThis.fetch,
    apiKey: opts.apiKey,
    timeoutMs: opts.timeoutMs ?? 60_000,
  };
  const limit = pLimit(opts.concurrency ?? 8);
  const retries = opts.retries ?? 4;
  const backoffMs = opts.backoffMs ?? 500;
  const memory = new Map<string, Promise<string>>();
  let requestsSent = 0;
  const send = (body: string): Promise<string> => {
    requestsSent++;
    return postChatCompletion(endpoint, body);
  };

  function complete(messages: JudgeMessage[]): Promise<string> {
    const body = JSON.stringify({
      model: opts.model,
      messages,
      temperature: opts.temperature ?? 0,
      ...(opts.maxTokens ? { max_tokens: opts.maxTokens } : {}),
    });
    const key = createHash('sha256').update(endpoint.url).update('\u0000').update(body).digest('hex');
    let pending = memory.get(key);
    if (!pending) {
      pending = (async () => {
        const cached = await readCachedReply(opts.cacheDir, key);
        if (cached !== null) return cached;
        const reply = await limit(() => withRetries(() => send(body), retries, backoffMs));
        await writeCachedReply(opts.cacheDir, key, reply);
        return reply;
      })();
      pending.catch(() => memory.delete(key)); // failures are not cached
      memory.set(key, pending);
    }
    return pending;
  }

  return {
    complete,
    get requestsSent() {
      return requestsSent;
    },
  };
}

/** Reward from an LLM judge. */
export function judgeReward(opts: JudgeOptions): RewardFn {
  const client = createJudgeClient(opts);
  const build = opts.buildMessages ?? defaultJudgeMessages;
  const parse = opts.parseScore ?? parseCorrectIncorrect;
  return async (completion, sample) => parse(await client.complete(build(completion, sample)));
}
