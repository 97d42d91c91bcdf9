/**
 * Local rollout servers: `grpo serve` child processes on 127.0.0.1 (any free port each), so one command gets
 * rollouts from servers of its own (`rollout.local_servers`). Each child is this package's CLI run by this Node
 * binary: from the TypeScript sources through tsx, from a compiled build as plain JavaScript.
 *
 * Children never outlive the process that started them:
 * - `stop()` ends them (the trainer calls it when a run ends, normally or by an error or a signal);
 * - they are started in a process group of their own (`detached`), so a Ctrl-C at the terminal reaches only the
 *   trainer, which finishes its step with its servers still up, then stops them;
 * - and if the parent dies without stopping them (a crash, `kill -9`), each exits on its own: it is started with
 *   `--exit-with-parent` and its stdin is a pipe from the parent, which the kernel closes when the parent dies,
 *   however it dies; the child sees end-of-file and exits. Unlike polling `process.ppid` this is immediate, needs no
 *   timer, is not fooled by a subreaper (in a container or a systemd session an orphan is adopted by a process that
 *   is not pid 1) and works on every platform Node runs on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GrpoError } from '../errors.ts';

/**
 * Flags every local server gets beyond the model's: `--exit-with-parent` (grpo serve's hidden flag for the lifetime
 * above) and `--allow-runtime-updates` (the trainer pushes each policy version through /update_weights_from_disk
 * and /v1/load_lora_adapter, off by default).
 */
export const LOCAL_SERVER_FLAGS: readonly string[] = ['--exit-with-parent', '--allow-runtime-updates'];

export interface LocalServerOptions {
  /** how many servers */
  count: number;
  /** what they serve: a model folder or file (`grpo serve --model`) */
  model: string;
  /** compute threads of each server */
  threads: number;
  tokenizer?: string;
  /** auto | f32 | bf16 */
  precision?: string;
  /** auto | cpu | vulkan[:N] | cuda[:N] | metal (default: the child's own default) */
  device?: string;
  /** the API key the servers require (none: open, on 127.0.0.1 only) */
  apiKey?: string;
  /** more `grpo serve` flags */
  extraArgs?: readonly string[];
  /** what the servers write to stderr, a line at a time, and a server that exits while in use (default: dropped) */
  log?: (line: string) => void;
  /** how long a server may take to open its model and listen (default 10 minutes) */
  startTimeoutMs?: number;
}

export interface LocalServers {
  /** each server's OpenAI base URL, http://127.0.0.1:<port>/v1 */
  urls: string[];
  /** the servers' process ids (tests) */
  pids: number[];
  /** ends every server (a polite end first, SIGKILL for one that does not go within 10 s); safe to call twice */
  stop(): Promise<void>;
}

/** The CLI entry beside this module: main.ts run through tsx from the sources, main.js in a compiled build. */
function cliCommand(): string[] {
  const fromSources = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSources ? '../cli/main.ts' : '../cli/main.js', import.meta.url));
  // tsx resolved from this package, so the child finds it whatever its working directory
  return fromSources ? ['--import', import.meta.resolve('tsx'), main] : [main];
}

const STOP_GRACE_MS = 10_000;
const STDERR_TAIL = 2000;

/** One `grpo serve` child; `ready` resolves with its base URL once it prints `listening on`. */
class LocalServer {
  readonly child: ChildProcess;
  readonly ready: Promise<string>;
  readonly exited: Promise<void>;
  private stderr = '';
  private stopping = false;

  constructor(args: string[], env: NodeJS.ProcessEnv, label: string, timeoutMs: number, log?: (l: string) => void) {
    this.child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env, detached: true });
    const child = this.child;
    // the parent never writes; an error on the pipe (the child gone) is not the parent's failure
    child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let partial = '';
    child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + String(d)).slice(-STDERR_TAIL);
      if (!log) return;
      const lines = (partial + String(d)).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.trim()) log(`${label}: ${l}`);
    });
    this.ready = new Promise((resolve, reject) => {
      let out = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        const tail = this.stderr.trim();
        reject(new GrpoError('io', `${label} ${why}${tail ? `: ${tail}` : ' (it wrote nothing to stderr)'}`));
      };
      const timer = setTimeout(() => fail(`did not listen within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
      const onData = (d: Buffer) => {
        out += String(d);
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining, so a chatty child never blocks on a full pipe
        child.off('close', onEarlyClose);
        child.once('exit', (code, signal) => {
          if (!this.stopping) log?.(`${label} (${m[1]}) exited (${signal ?? `code ${code}`}) while in use`);
        });
        resolve(`${m[1]}/v1`);
      };
      // 'close' comes after the exit and the end of its output, so the stderr tail holds the reason
      const onEarlyClose = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(`exited (${signal ?? `code ${code}`}) before listening`);
      child.stdout!.on('data', onData);
      child.once('close', onEarlyClose);
      child.once('error', (e) => fail(`could not be started: ${e.message}`));
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    // end of stdin is what --exit-with-parent exits on
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `count` servers and resolves once all listen; if one cannot start, all are stopped and its error thrown. */
export async function startLocalServers(o: LocalServerOptions): Promise<LocalServers> {
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new GrpoError('config', `local servers: count must be a positive integer, got ${o.count}`);
  const args = [
    ...cliCommand(),
    'serve',
    '--model',
    o.model,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--threads',
    String(o.threads),
    ...(o.tokenizer ? ['--tokenizer', o.tokenizer] : []),
    ...(o.precision ? ['--precision', o.precision] : []),
    ...(o.device ? ['--device', o.device] : []),
    ...LOCAL_SERVER_FLAGS,
    ...(o.extraArgs ?? []),
  ];
  // the key goes through the environment (not the command line, which other users can read); an inherited
  // GRPO_API_KEY would lock the trainer out of its own servers
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GRPO_API_KEY;
  if (o.apiKey) env.GRPO_API_KEY = o.apiKey;
  const servers = Array.from(
    { length: o.count },
    (_, i) =>
      new LocalServer(args, env, `local rollout server ${i + 1} of ${o.count}`, o.startTimeoutMs ?? 600_000, o.log),
  );
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const started = await Promise.allSettled(servers.map((s) => s.ready));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    urls: started.map((r) => (r as PromiseFulfilledResult<string>).value),
    pids: servers.map((s) => s.child.pid!),
    stop,
  };
}
