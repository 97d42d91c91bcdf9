/**
 * A fleet of OpenAI-compatible rollout servers (vLLM, SGLang, `grpo serve`) used as one.
 *
 * - Load balancing: a request goes to the server with the fewest requests in flight (ties: the one listed first),
 *   as verl's and OpenRLHF's rollout routers do for equal replicas.
 * - Faults: a server whose request fails for a transient reason (network error, timeout, 5xx after the client's own
 *   retries) is taken out; its request is retried on the others, so a batch loses no completion and counts none
 *   twice (a failed request returned nothing). The server is polled (GET /models) until it answers, given the latest
 *   weights again (a restarted server holds its start-up weights), and put back.
 * - Weight versions: after each optimizer step the trainer broadcasts the new policy; a server records the version
 *   it acknowledged, and a request that needs a version is never sent to a server behind it. Each result carries
 *   the version that sampled it (the adapter it named, or the server's weights when it was sent), so an
 *   asynchronous trainer knows how stale it is.
 */
import { GrpoError } from '../errors.ts';
import type { GenerationOptions, GenerationResult, TokenCompleter } from './chat-model.ts';
import { OpenAIClient, type OpenAIClientOptions } from './openai-client.ts';

export interface FleetOptions {
  /** each server's API root, e.g. http://127.0.0.1:8000/v1 */
  urls: readonly string[];
  /** the model every server must serve (default: the first server's first listed model) */
  servedModel?: string;
  apiKey?: string;
  /** requests in flight per server at most */
  concurrency?: number;
  /** per-request client options (timeouts, retries) */
  client?: Pick<OpenAIClientOptions, 'timeoutMs' | 'retry' | 'fetch'>;
  /** how often a server that is out is polled (default 1 s) */
  healthIntervalMs?: number;
  /** how long a request waits for any server to be usable before the run stops (default 10 min) */
  waitLimitMs?: number;
  /** one line per server going out or coming back (default: stderr) */
  log?: (line: string) => void;
}

/** What a server served: its URL, whether it is in, the policy version it acknowledged, its request counts. */
export interface ServerState {
  readonly url: string;
  /** requests in flight now */
  inFlight: number;
  /** requests it answered */
  served: number;
  /** requests that failed on it (and were retried elsewhere) */
  failed: number;
  /** false while taken out after a failure */
  up: boolean;
  /** the last policy version it acknowledged (0 = the weights it started with) */
  version: number;
  /** the last failure, for errors */
  problem: string;
}

/** Pushes one policy version to one server; throws when the server refuses it. */
export type WeightPush = (url: string, version: number) => Promise<void>;

/** A completion request's result, the policy version that sampled it, and the server that answered. */
export interface FleetResult extends GenerationResult {
  policyVersion: number;
  server: string;
}

interface Member extends ServerState {
  /** the client for the model name requests carry now */
  client: OpenAIClient | null;
}

export class ServerFleet implements TokenCompleter {
  /** the model name requests carry: the served model, or the adapter of the latest policy version */
  modelName: string;
  /** requests are sent only to servers at this version or later */
  minVersion = 0;
  /** the policy version whose weights requests name (an adapter's version; with full weights, the latest) */
  private namedVersion = 0;
  private readonly members: Member[];
  private latest: { version: number; push: WeightPush } | null = null;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  private constructor(
    private readonly opts: FleetOptions,
    readonly servedModel: string,
    /** the shortest context any server reports (undefined when none reports one) */
    readonly contextLength: number | undefined,
  ) {
    this.modelName = servedModel;
    this.members = opts.urls.map((url) => ({
      url: url.replace(/\/+$/, ''),
      inFlight: 0,
      served: 0,
      failed: 0,
      up: true,
      version: 0,
      problem: '',
      client: null,
    }));
  }

  /**
   * Asks every server what it serves and refuses a fleet that is not one model: an unreachable server, or one
   * that does not serve the model the first one serves, is one error naming it.
   */
  static async open(opts: FleetOptions): Promise<ServerFleet> {
    if (opts.urls.length === 0)
      throw new GrpoError('config', 'rollout.base_url lists no server; give one URL or a list of them');
    const listed = await Promise.all(opts.urls.map((url) => listModels(url, opts)));
    const served = opts.servedModel ?? listed[0][0]?.id;
    if (!served) throw new GrpoError('http', `${opts.urls[0]}/models lists no model`);
    const contexts: number[] = [];
    listed.forEach((models, i) => {
      const m = models.find((x) => x.id === served);
      if (!m)
        throw new GrpoError(
          'config',
          `rollout server ${opts.urls[i]} does not serve '${served}' (it serves ${models.map((x) => `'${x.id}'`).join(', ') || 'nothing'}); every server of rollout.base_url must serve the same model`,
        );
      if (m.contextLength !== undefined) contexts.push(m.contextLength);
    });
    return new ServerFleet(opts, served, contexts.length ? Math.min(...contexts) : undefined);
  }

  /** Each server's state, for metrics (per-server request counts) and tests. */
  get servers(): readonly ServerState[] {
    return this.members;
  }

  /**
   * From now on requests go only to servers that took `version`, naming `modelName` (its adapter; the served
   * model for full weights).
   */
  use(version: number, modelName = this.modelName): void {
    this.modelName = modelName;
    this.namedVersion = version;
    this.minVersion = version;
  }

  /** POST /completions on the least-busy usable server; a transient failure moves the request to another. */
  async complete(prompt: readonly number[], opts: GenerationOptions = {}): Promise<FleetResult> {
    for (;;) {
      const m = this.leastBusy() ?? (await this.usableServer());
      const client = this.clientOf(m);
      // an adapter request samples the version it names; full weights, the server's (a later update that reaches
      // the server first only makes the completion fresher than recorded)
      const policyVersion = Math.min(m.version, this.namedVersion);
      m.inFlight++;
      try {
        const r = await client.complete(prompt, opts);
        m.served++;
        return { ...r, policyVersion, server: m.url };
      } catch (e) {
        if (!isTransient(e)) throw e;
        m.failed++;
        this.takeOut(m, (e as Error).message);
      } finally {
        m.inFlight--;
        this.wake();
      }
    }
  }

  /**
   * Gives every server that is in the policy of `version` (`push` loads it on one server). A server that refuses
   * it is taken out — it gets no work until it has acknowledged the latest version — and the run goes on with the
   * others; when none takes it, the error names each server's answer.
   */
  async broadcast(version: number, push: WeightPush): Promise<void> {
    this.latest = { version, push };
    const targets = this.members.filter((m) => m.up);
    const results = await Promise.allSettled(targets.map((m) => push(m.url, version)));
    results.forEach((r, i) => {
      const m = targets[i];
      if (r.status === 'fulfilled') m.version = Math.max(m.version, version);
      else this.takeOut(m, `it refused policy version ${version}: ${(r.reason as Error).message}`);
    });
    if (!this.members.some((m) => m.up && m.version >= version))
      throw new GrpoError(
        'http',
        `no rollout server took policy version ${version}: ${this.members.map((m) => `${m.url}: ${m.problem}`).join('; ')}`,
      );
    this.wake();
  }

  /** Stops polling servers that are out. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wake();
  }

  /** The server's client for the current model name; an earlier adapter's client finishes what it holds. */
  private clientOf(m: Member): OpenAIClient {
    if (m.client?.model !== this.modelName)
      // no cache: the same prompt and seed must be sampled again after every weight update
      m.client = new OpenAIClient({
        ...this.opts.client,
        // with other servers to take a failed request, retrying one server long only delays the batch
        retry:
          this.opts.client?.retry ?? (this.members.length > 1 ? { maxRetries: 1, initialDelayMs: 200 } : undefined),
        baseUrl: m.url,
        model: this.modelName,
        apiKey: this.opts.apiKey,
        concurrency: this.opts.concurrency,
        memoryCache: false,
      });
    return m.client;
  }

  /**
   * The in server at the required version with the fewest requests in flight. Chosen synchronously, so requests
   * sent together see each other's counts.
   */
  private leastBusy(): Member | null {
    let best: Member | null = null;
    for (const m of this.members)
      if (m.up && m.version >= this.minVersion && (!best || m.inFlight < best.inFlight)) best = m;
    return best;
  }

  /** Waits for a usable server (one back from a failure, or one that acknowledged the required version). */
  private async usableServer(): Promise<Member> {
    const deadline = Date.now() + (this.opts.waitLimitMs ?? 600_000);
    for (;;) {
      if (this.closed) throw new GrpoError('interrupted', 'the rollout fleet was closed');
      const best = this.leastBusy();
      if (best) return best;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new GrpoError(
          'http',
          `no rollout server could take a request for ${Math.round((this.opts.waitLimitMs ?? 600_000) / 1000)} s: ${this.members.map((m) => `${m.url} ${m.up ? `at policy version ${m.version} of ${this.minVersion}` : `out (${m.problem})`}`).join('; ')}`,
        );
      await this.waitForChange(Math.min(left, 1000));
    }
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.timers.delete(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.timers.add(t);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private takeOut(m: Member, problem: string): void {
    m.problem = problem;
    if (!m.up) return;
    m.up = false;
    this.log(`rollout server ${m.url} is out (${problem}); its requests go to the others until it answers again`);
    this.probe(m);
  }

  /** Polls GET /models until the server answers, gives it the latest weights, and puts it back. */
  private probe(m: Member): void {
    const again = () => {
      const t = setTimeout(async () => {
        this.timers.delete(t);
        if (this.closed) return;
        try {
          await listModels(m.url, { ...this.opts, client: { ...this.opts.client, retry: { maxRetries: 0 } } });
          if (this.latest && m.version < this.latest.version) {
            await this.latest.push(m.url, this.latest.version);
            m.version = this.latest.version;
          }
          m.up = true;
          this.log(`rollout server ${m.url} is back (policy version ${m.version})`);
          this.wake();
        } catch (e) {
          m.problem = (e as Error).message;
          again();
        }
      }, this.opts.healthIntervalMs ?? 1000);
      t.unref(); // polling a server that is out must not keep a finished run's process alive
      this.timers.add(t);
    };
    again();
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }
}

function listModels(url: string, opts: FleetOptions): Promise<{ id: string; contextLength?: number }[]> {
  return new OpenAIClient({
    ...opts.client,
    baseUrl: url,
    model: '(listing models)',
    apiKey: opts.apiKey,
    memoryCache: false,
  }).modelInfo();
}

/** A failure another server may not have: the network, a timeout, a 5xx — not a request the server refused. */
function isTransient(e: unknown): boolean {
  return e instanceof GrpoError && e.code === 'unreachable';
}
