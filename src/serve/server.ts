/**
 * `grpo serve`: an OpenAI-compatible HTTP server (node:http) over the embedded model.
 *
 *   GET  /v1/models              the one served model (id = `modelName`, default the model file's name)
 *   GET  /v1/models/{id}
 *   POST /v1/chat/completions    messages → chat template (or the plain fallback, see prompt.ts)
 *   POST /v1/completions         prompt: string | string[] | token ids | token-id arrays
 *   GET  /health
 *   GET  /metrics                Prometheus text, vLLM's metric names (serve-metrics.ts)
 *   POST /update_weights_from_disk   SGLang's weight sync: reload the weights in place (update-weights.ts)
 *   POST /v1/load_lora_adapter, /v1/unload_lora_adapter   vLLM's runtime LoRA API (lora-routes.ts)
 *
 * Completion requests decode in one running batch that they join at any step (continuous-batcher.ts); weight
 * and adapter changes are queued between batches. Errors are OpenAI-shaped JSON: 400 naming the bad
 * field, 404 for an unknown route or model, 405 for a wrong method, 500 otherwise; no request can crash it.
 * Binds 127.0.0.1 unless told otherwise; with an API key, every route but /health and /metrics needs "Authorization:
 * Bearer <key>" (401 otherwise), as vLLM's --api-key (vLLM serves /metrics without the key too). Loading weights or
 * adapters from a client's path is off unless allowRuntimeUpdates (runtime-updates.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { basename, extname } from 'node:path';
import { openModel, type OpenedModel, type OpenOptions } from '../model/open-model.ts';
import { Rng } from '../util/rng.ts';
import { handleCompletion, checkModelName, type HandlerContext } from './completion-handler.ts';
import { sendError, sendJson } from './http-io.ts';
import { modelObject } from './openai-shapes.ts';
import { SerialQueue } from './serial-queue.ts';
import { ContinuousBatcher } from './continuous-batcher.ts';
import { ServeError, httpErrorOf } from './serve-error.ts';
import { GrpoError } from '../errors.ts';
import { ServedModel } from './served-model.ts';
import { handleLoadLoraAdapter, handleUnloadLoraAdapter } from './lora-routes.ts';
import { handleUpdateWeightsFromDisk } from './update-weights.ts';
import { ServeMetrics } from './serve-metrics.ts';
import { clientErrorHandler } from './client-errors.ts';

/** `tokenizer`, `threads`, `precision`, `adapter`, `basePrecision`: how a model path is opened (open-model.ts) */
export interface ServeOptions
  extends Pick<OpenOptions, 'tokenizer' | 'threads' | 'device' | 'precision' | 'adapter' | 'basePrecision'> {
  /** model path (Hugging Face folder, .gguf or llama2.c .bin), or a model already opened (the caller frees it) */
  model: string | OpenedModel;
  /** interface to bind (default 127.0.0.1: this machine only) */
  host?: string;
  /** port (default 8000, as vLLM; 0 = any free port) */
  port?: number;
  /** the id served at /v1/models (default: the model's file or folder name without extension) */
  modelName?: string;
  /** max_tokens of a chat request that sends none (default 256; never more than half the context) */
  defaultMaxTokens?: number;
  /** seeds the sampling seeds of requests that send none (default: random, so such requests differ) */
  seed?: number;
  /** where prompt truncation and internal errors are reported (default: stderr) */
  log?: (line: string) => void;
  /** bearer token every route but /health and /metrics requires, as vLLM's --api-key (default: none, open) */
  apiKey?: string;
  /** let clients load weights and adapters from paths they name (default false: those routes answer 403) */
  allowRuntimeUpdates?: boolean;
  /** cut prompts that do not fit the context from the left (default false: 400, as vLLM answers) */
  truncatePrompts?: boolean;
  /**
   * seconds a request may take to arrive whole (headers and body) before it is answered 408 (default 600; 0: no
   * limit). Node counts it on the wall clock, also while the model's computes hold the event loop.
   */
  requestTimeout?: number;
}

export interface RunningServer {
  /** http://host:port (the OpenAI base URL is this + /v1) */
  url: string;
  /** url + '/v1', what clients take as base_url */
  baseUrl: string;
  modelName: string;
  contextLength: number;
  server: Server;
  /** stops accepting requests, lets the running one finish, frees the model if the server opened it */
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8000;
/** seconds; far beyond any compute on a real device (Mesa's software Vulkan compiling its kernels: minutes) */
export const DEFAULT_REQUEST_TIMEOUT = 600;

function defaultModelName(path: string): string {
  const name = basename(path.replace(/[\\/]+$/, ''));
  const ext = extname(name);
  return ext === '.bin' || ext === '.gguf' ? name.slice(0, -ext.length) : name;
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** GET /metrics: Prometheus' text format, version 0.0.4 (what vLLM's prometheus_client answers). */
function sendMetrics(res: ServerResponse, metrics: ServeMetrics): void {
  const text = metrics.text();
  res.writeHead(200, {
    'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

type Handler = (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'POST', Handler>>;
}

function routesFor(ctx: HandlerContext, startedAt: number): Route[] {
  const served = ctx.served;
  // loaded LoRA adapters are listed as models of their own, as vLLM lists them
  const model = (name = served.name) => modelObject(name, startedAt, served.contextLength);
  return [
    {
      pattern: /^\/v1\/models$/,
      methods: {
        GET: (_q, res) =>
          sendJson(res, 200, { object: 'list', data: [served.name, ...served.adapterNames].map((n) => model(n)) }),
      },
    },
    {
      pattern: /^\/v1\/models\/(.+)$/,
      methods: {
        GET: (_q, res, m) => {
          const name = decodeURIComponent(m[1]);
          checkModelName(served, name);
          sendJson(res, 200, model(name));
        },
      },
    },
    { pattern: /^\/v1\/load_lora_adapter$/, methods: { POST: (req, res) => handleLoadLoraAdapter(ctx, req, res) } },
    { pattern: /^\/v1\/unload_lora_adapter$/, methods: { POST: (req, res) => handleUnloadLoraAdapter(ctx, req, res) } },
    { pattern: /^\/v1\/chat\/completions$/, methods: { POST: (req, res) => handleCompletion(ctx, 'chat', req, res) } },
    { pattern: /^\/v1\/completions$/, methods: { POST: (req, res) => handleCompletion(ctx, 'text', req, res) } },
    {
      pattern: /^\/health$/,
      methods: { GET: (_q, res) => sendJson(res, 200, { status: 'ok', model: served.name, queued: ctx.queue.size }) },
    },
    { pattern: /^\/metrics$/, methods: { GET: (_q, res) => sendMetrics(res, ctx.metrics) } },
    // SGLang's path (no /v1 prefix) and body, so a trainer syncs weights to SGLang and grpo serve alike
    {
      pattern: /^\/update_weights_from_disk$/,
      methods: { POST: (req, res) => handleUpdateWeightsFromDisk(ctx, req, res) },
    },
  ];
}

async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    const handler = route.methods[req.method as 'GET' | 'POST'];
    if (!handler) {
      const allowed = Object.keys(route.methods).join(', ');
      throw new ServeError('method_not_allowed', `${req.method} is not allowed on ${path}; use ${allowed}`);
    }
    return handler(req, res, match);
  }
  throw new ServeError(
    'not_found',
    `no route ${req.method} ${path}; this server has GET /v1/models, POST /v1/chat/completions, POST /v1/completions, GET /health, GET /metrics, POST /update_weights_from_disk, POST /v1/load_lora_adapter, POST /v1/unload_lora_adapter`,
  );
}

/** routes open without the API key, as in vLLM: liveness and the Prometheus scrape */
const OPEN_ROUTES = new Set(['/health', '/metrics']);

/** Whether a request may proceed: with a key, every route but OPEN_ROUTES needs "Authorization: Bearer <key>". */
function bearerCheck(apiKey: string | undefined): (req: IncomingMessage) => boolean {
  if (!apiKey) return () => true;
  const expected = createHash('sha256').update(`Bearer ${apiKey}`).digest();
  return (req) => {
    if (OPEN_ROUTES.has(new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, ''))) return true;
    // compared as digests in constant time: the key does not leak through response timing
    return timingSafeEqual(
      createHash('sha256')
        .update(req.headers.authorization ?? '')
        .digest(),
      expected,
    );
  };
}

/** The model to serve: opened from its path (then the server owns it and frees it on close), or the one given. */
function modelToServe(opts: ServeOptions): { opened: OpenedModel; ownsModel: boolean; name: string } {
  const ownsModel = typeof opts.model === 'string';
  const opened =
    typeof opts.model === 'string'
      ? openModel(opts.model, {
          tokenizer: opts.tokenizer,
          threads: opts.threads,
          device: opts.device,
          precision: opts.precision,
          adapter: opts.adapter,
          basePrecision: opts.basePrecision,
        })
      : opts.model;
  const name = opts.modelName ?? (typeof opts.model === 'string' ? defaultModelName(opts.model) : 'grpo-model');
  return { opened, ownsModel, name };
}

/** Answers every request: checks its key, routes it, and answers any error OpenAI-shaped (internal ones logged). */
function requestListener(
  routes: Route[],
  apiKey: string | undefined,
  log: (line: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const authorized = bearerCheck(apiKey);
  return (req, res) => {
    (authorized(req)
      ? dispatch(routes, req, res)
      : Promise.reject(
          new ServeError(
            'unauthorized',
            'missing or wrong API key: send the header "Authorization: Bearer <key>" with the key this server was started with',
          ),
        )
    ).catch((e: unknown) => {
      if (httpErrorOf(e).status >= 500 && !(e instanceof ServeError))
        log(`internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      try {
        // an unread body must not be taken for the next request on a kept-alive connection
        sendError(res, e, req.complete ? {} : { connection: 'close' });
      } catch {
        res.destroy();
      }
    });
  };
}

/** Binds `host:port`; one that cannot be bound is an 'io' error that says what to pick instead. */
async function listen(server: Server, host: string, port: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    throw new GrpoError(
      'io',
      `cannot listen on ${urlOf(host, port)}: ${(e as Error).message}; pick another --port (0 = any free one) or --host`,
    );
  }
}

/**
 * The HTTP server over the routes. Node measures its request timeouts on the wall clock, and the model's computes
 * hold the event loop (a long prefill; a GPU backend compiling its kernels at first use, minutes on Mesa's software
 * Vulkan device), so a request that arrived meanwhile counts that time: the limit is far beyond any compute, a flag,
 * and its 408 names it (client-errors.ts).
 */
function checkRequestTimeout(seconds: number): void {
  if (!(Number.isFinite(seconds) && seconds >= 0))
    throw new GrpoError('config', `--request-timeout takes seconds ≥ 0 (0: no limit), got ${seconds}`);
}

function httpServer(routes: Route[], opts: ServeOptions, log: (line: string) => void): Server {
  const seconds = opts.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT;
  const ms = Math.round(seconds * 1000);
  // Node checks the limit every 30 s by default: a short limit is checked more often
  const interval = Math.min(30_000, Math.max(100, Math.round(ms / 4)));
  const server = createServer(
    { headersTimeout: ms, requestTimeout: ms, connectionsCheckingInterval: interval },
    requestListener(routes, opts.apiKey, log),
  );
  server.on('clientError', clientErrorHandler(seconds));
  return server;
}

/** Opens the model (unless given one) and starts serving; resolves once the port is bound. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  if (opts.requestTimeout !== undefined) checkRequestTimeout(opts.requestTimeout);
  const { opened, ownsModel, name } = modelToServe(opts);
  const served = new ServedModel(opened.model, opened.tokenizer, name);
  const log = opts.log ?? ((line: string) => console.error(`grpo serve: ${line}`));
  const seeds = new Rng(opts.seed ?? randomInt(2 ** 31));
  let closing = false;
  const queue = new SerialQueue();
  const metrics: ServeMetrics = new ServeMetrics(name, () => batcher.load);
  const batcher: ContinuousBatcher = new ContinuousBatcher(queue, served, () => closing, metrics);
  const ctx: HandlerContext = {
    served,
    queue,
    batcher,
    metrics,
    defaultMaxTokens: opts.defaultMaxTokens ?? 256,
    truncatePrompts: opts.truncatePrompts ?? false,
    allowRuntimeUpdates: opts.allowRuntimeUpdates ?? false,
    nextSeed: () => seeds.int(2 ** 31),
    closing: () => closing,
    log,
  };
  const server = httpServer(routesFor(ctx, Math.floor(Date.now() / 1000)), opts, log);

  const host = opts.host ?? '127.0.0.1';
  try {
    await listen(server, host, opts.port ?? DEFAULT_PORT);
  } catch (e) {
    if (ownsModel) opened.model.free();
    throw e;
  }
  const url = urlOf(host, (server.address() as AddressInfo).port);

  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await ctx.queue.idle();
      server.closeAllConnections();
      await stopped;
      if (ownsModel) opened.model.free();
    })());
  return { url, baseUrl: `${url}/v1`, modelName: name, contextLength: served.contextLength, server, close };
}
