/**
 * Client for any OpenAI-compatible server (OpenAI, vLLM, SGLang, llama.cpp server, `grpo serve`, …):
 * /chat/completions, /completions and /models, with a concurrency limit, retries with back-off and jitter
 * (honouring Retry-After), a per-attempt timeout, and a response cache (memory, optionally disk).
 *
 * Caching policy: a response is cached only when the request is deterministic — temperature 0 or an
 * explicit seed — unless `cacheSampled` is set. Otherwise a cache would silently turn "sample again" into
 * "repeat the last sample", which breaks group sampling (GRPO groups, GEPA re-evaluations).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { GrpoError } from '../errors.ts';
import { Rng } from '../util/rng.ts';
import type {
  ChatMessage,
  ChatModel,
  GenerationChoice,
  GenerationOptions,
  GenerationResult,
  TokenLogprob,
} from './chat-model.ts';
import { ResponseCache, requestCacheKey } from './openai-client-cache.ts';
import {
  defaultRetryPolicy,
  isRetriableStatus,
  parseRetryAfter,
  retryDelayMs,
  type RetryPolicy,
} from './openai-client-retry.ts';

export interface OpenAIClientOptions {
  /** server root including the API prefix, e.g. "http://127.0.0.1:8000/v1" */
  baseUrl: string;
  /** the `model` field sent with every request */
  model: string;
  /** bearer token; when absent, OPENAI_API_KEY from the environment is used if set */
  apiKey?: string;
  /** requests in flight at once (default 8) */
  concurrency?: number;
  /** per-attempt timeout in ms, covering the response body too (default 120 000) */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** on-disk cache folder; undefined = no disk cache */
  cacheDir?: string;
  /** in-memory cache (default true) */
  memoryCache?: boolean;
  /** also cache sampled requests (temperature ≠ 0 without a seed); default false, see the file comment */
  cacheSampled?: boolean;
  /** options applied to every request unless the call overrides them */
  defaults?: GenerationOptions;
  /** extra HTTP headers */
  headers?: Record<string, string>;
  /** seed for the back-off jitter (reproducible timing decisions; default 0) */
  jitterSeed?: number;
  /** injectable for tests */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export interface ClientStats {
  /** HTTP attempts sent, retries included */
  requests: number;
  retries: number;
  cacheHits: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Json = Record<string, unknown>;

export class OpenAIClient implements ChatModel {
  readonly name: string;
  readonly baseUrl: string;
  readonly model: string;
  readonly stats: ClientStats = { requests: 0, retries: 0, cacheHits: 0 };
  private readonly apiKey?: string;
  private readonly limit: LimitFunction;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly cache: ResponseCache<GenerationResult>;
  private readonly cacheSampled: boolean;
  private readonly defaults: GenerationOptions;
  private readonly headers: Record<string, string>;
  private readonly jitter: Rng;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly inflight = new Map<string, Promise<GenerationResult>>();

  constructor(opts: OpenAIClientOptions) {
    if (!/^https?:\/\//.test(opts.baseUrl)) {
      throw new GrpoError(
        'config',
        `base_url '${opts.baseUrl}' is not an http(s) URL; give the server root with its API prefix, e.g. http://127.0.0.1:8000/v1`,
      );
    }
    if (!opts.model)
      throw new GrpoError(
        'config',
        `no model name for ${opts.baseUrl}; set model (GET ${opts.baseUrl}/models lists what the server serves)`,
      );
    const concurrency = opts.concurrency ?? 8;
    if (!(Number.isInteger(concurrency) && concurrency >= 1))
      throw new GrpoError('config', `concurrency must be an integer ≥ 1, got ${concurrency}`);
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.model = opts.model;
    this.name = `${opts.model} @ ${this.baseUrl}`;
    this.apiKey = opts.apiKey ?? process.env.OPENAI_API_KEY;
    this.limit = pLimit(concurrency);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.retry = { ...defaultRetryPolicy, ...opts.retry };
    this.cache = new ResponseCache({ dir: opts.cacheDir, memory: opts.memoryCache ?? true });
    this.cacheSampled = opts.cacheSampled ?? false;
    this.defaults = opts.defaults ?? {};
    this.headers = opts.headers ?? {};
    this.jitter = new Rng(opts.jitterSeed ?? 0);
    this.fetchFn = opts.fetch ?? fetch;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  /** POST /chat/completions */
  chat(messages: readonly ChatMessage[], opts: GenerationOptions = {}): Promise<GenerationResult> {
    const o = { ...this.defaults, ...opts };
    const body: Json = {
      model: this.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      ...samplingFields(o),
      logprobs: o.logprobs || undefined,
      top_logprobs: o.logprobs ? o.topLogprobs : undefined,
    };
    return this.cachedPost('/chat/completions', body, o, parseChatResponse);
  }

  /** POST /completions (raw prompt, no chat template): text, or token ids as vLLM / SGLang / grpo serve accept */
  complete(prompt: string | readonly number[], opts: GenerationOptions = {}): Promise<GenerationResult> {
    const o = { ...this.defaults, ...opts };
    const body: Json = {
      model: this.model,
      prompt: typeof prompt === 'string' ? prompt : [...prompt],
      ...samplingFields(o),
      // the legacy endpoint takes an integer: how many alternatives per position (0 = sampled token only)
      logprobs: o.logprobs ? (o.topLogprobs ?? 0) : undefined,
    };
    return this.cachedPost('/completions', body, o, parseCompletionResponse);
  }

  /** GET /models: the ids the server serves (never cached). */
  async listModels(): Promise<string[]> {
    return (await this.modelInfo()).map((m) => m.id);
  }

  /** GET /models: each model's id and, where the server reports it (vLLM, grpo serve), its context (max_model_len). */
  async modelInfo(): Promise<{ id: string; contextLength?: number }[]> {
    const json = await this.limit(() => this.send('GET', '/models', undefined));
    const data = (json as { data?: { id?: unknown; max_model_len?: unknown }[] }).data;
    if (!Array.isArray(data)) throw this.protocolError('/models', 'no "data" array');
    return data.map((m) => ({
      id: String(m.id),
      ...(typeof m.max_model_len === 'number' ? { contextLength: m.max_model_len } : {}),
    }));
  }

  private isDeterministic(o: GenerationOptions): boolean {
    return o.temperature === 0 || o.seed !== undefined;
  }

  private cachedPost(
    path: string,
    body: Json,
    o: GenerationOptions,
    parse: (json: Json, url: string) => GenerationResult,
  ): Promise<GenerationResult> {
    const url = this.baseUrl + path;
    const cacheable = this.cache.enabled && (this.cacheSampled || this.isDeterministic(o));
    if (!cacheable) return this.limit(async () => parse(await this.send('POST', path, body), url));
    const key = requestCacheKey(url, body);
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return Promise.resolve({ ...hit, cached: true });
    }
    // identical requests already on their way share one answer instead of asking twice
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.limit(async () => {
      const result = parse(await this.send('POST', path, body), url);
      this.cache.set(key, result, body);
      return result;
    }).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** One logical request: attempts with timeout, retries on transient failures, clear errors otherwise. */
  private async send(method: 'GET' | 'POST', path: string, body: Json | undefined): Promise<Json> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const attempts = this.retry.maxRetries + 1;
    let lastProblem = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) this.stats.retries++;
      this.stats.requests++;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      let retryAfterMs: number | null = null;
      try {
        const res = await this.fetchFn(url, { method, headers, body: payload, signal: controller.signal });
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text) as Json;
          } catch {
            throw this.protocolError(path, `the response is not JSON: ${excerpt(text)}`);
          }
        }
        if (!isRetriableStatus(res.status)) throw httpError(method, url, res.status, res.statusText, text);
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        lastProblem = `HTTP ${res.status} ${res.statusText}: ${excerpt(text)}`;
      } catch (e) {
        if (e instanceof GrpoError) throw e;
        lastProblem = controller.signal.aborted
          ? `no response within ${this.timeoutMs} ms`
          : `network error: ${describeNetworkError(e)}`;
      } finally {
        clearTimeout(timer);
      }
      if (attempt + 1 < attempts) await this.sleep(retryDelayMs(attempt, this.retry, this.jitter, retryAfterMs));
    }
    throw new GrpoError(
      'unreachable',
      `${method} ${url} failed after ${attempts} attempt(s); last: ${lastProblem}. ` +
        `Check that the server is up at ${this.baseUrl} and not overloaded (lower concurrency, raise timeout_ms or max_retries).`,
    );
  }

  private protocolError(path: string, what: string): GrpoError {
    return new GrpoError(
      'protocol',
      `${this.baseUrl + path}: ${what}; is this an OpenAI-compatible server (base_url usually ends in /v1)?`,
    );
  }
}

function samplingFields(o: GenerationOptions): Json {
  return {
    n: o.n,
    temperature: o.temperature,
    top_p: o.topP,
    max_tokens: o.maxTokens,
    stop: o.stop && o.stop.length > 0 ? o.stop : undefined,
    seed: o.seed,
    ...o.extra,
  };
}

function excerpt(text: string, max = 300): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t || '(empty body)';
}

function describeNetworkError(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause ? `${e.message} (${cause.code ?? cause.message ?? 'unknown cause'})` : e.message;
  }
  return String(e);
}

function httpError(method: string, url: string, status: number, statusText: string, body: string): GrpoError {
  const hint =
    status === 401 || status === 403
      ? 'set api_key in the model config (or OPENAI_API_KEY) to a key this server accepts'
      : status === 404
        ? 'check base_url (it usually ends in /v1) and the model name (GET /models lists them)'
        : status === 400 || status === 422
          ? 'the server rejected the request; an option may be unsupported or out of range (n, logprobs, max_tokens, stop)'
          : 'see the server log';
  return new GrpoError('http', `${method} ${url} → HTTP ${status} ${statusText}: ${excerpt(body)}. ${hint}.`);
}

type RawChoice = { index?: number; finish_reason?: string | null } & Json;

function orderedChoices(json: Json, url: string): RawChoice[] {
  const choices = json.choices;
  if (!Array.isArray(choices))
    throw new GrpoError('protocol', `${url}: response has no "choices" array: ${excerpt(JSON.stringify(json))}`);
  return (choices as RawChoice[])
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (a.c.index ?? a.i) - (b.c.index ?? b.i))
    .map((x) => x.c);
}

function usageOf(json: Json): GenerationResult['usage'] {
  const u = json.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
  return u ? { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0 } : undefined;
}

export function parseChatResponse(json: Json, url: string): GenerationResult {
  const choices: GenerationChoice[] = orderedChoices(json, url).map((c) => {
    const message = c.message as { content?: string | null } | undefined;
    const lp = (
      c.logprobs as
        | { content?: { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[] }
        | null
        | undefined
    )?.content;
    const logprobs: TokenLogprob[] | undefined = Array.isArray(lp)
      ? lp.map((t) => ({
          token: t.token,
          logprob: t.logprob,
          topLogprobs: t.top_logprobs?.map((a) => ({ token: a.token, logprob: a.logprob })),
        }))
      : undefined;
    return { text: message?.content ?? '', finishReason: c.finish_reason ?? 'stop', logprobs };
  });
  return { choices, usage: usageOf(json) };
}

export function parseCompletionResponse(json: Json, url: string): GenerationResult {
  const choices: GenerationChoice[] = orderedChoices(json, url).map((c) => {
    const lp = c.logprobs as
      | { tokens?: string[]; token_logprobs?: number[]; top_logprobs?: (Record<string, number> | null)[] }
      | null
      | undefined;
    const logprobs: TokenLogprob[] | undefined =
      lp && Array.isArray(lp.tokens)
        ? lp.tokens.map((token, i) => {
            const top = lp.top_logprobs?.[i];
            return {
              token,
              logprob: lp.token_logprobs?.[i] ?? Number.NaN,
              topLogprobs: top
                ? Object.entries(top)
                    .map(([t, l]) => ({ token: t, logprob: l }))
                    .sort((a, b) => b.logprob - a.logprob)
                : undefined,
            };
          })
        : undefined;
    return { text: typeof c.text === 'string' ? c.text : '', finishReason: c.finish_reason ?? 'stop', logprobs };
  });
  return { choices, usage: usageOf(json) };
}
