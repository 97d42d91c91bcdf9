/**
 * Runs model-written JavaScript against assertion tests in QuickJS compiled to WebAssembly
 * (quickjs-emscripten), inside worker threads. Limits: a QuickJS memory limit, a stack limit, a
 * cooperative interrupt deadline, and a hard deadline at which the worker thread is terminated.
 * The sandbox has ECMAScript built-ins only: no process, require, import, fs, network or timers.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { CodeRunResult } from './python.ts';

export interface JavaScriptLimits {
  /** Wall-clock budget for the code and all its tests, in ms. Default 5000. */
  timeoutMs?: number;
  /** QuickJS heap limit in bytes. Default 64 MiB. */
  memoryBytes?: number;
  /** QuickJS stack limit in bytes. Default 1 MiB. */
  stackBytes?: number;
  /** Extra time past timeoutMs before the worker thread is terminated. Default 500. */
  graceMs?: number;
}

interface Reply {
  id: number;
  results: boolean[];
  codeError?: string;
  console: string;
  timedOut: boolean;
}

const WORKER_START_TIMEOUT_MS = 30_000;

class SandboxWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  private pending: ((r: Reply | null) => void) | null = null;
  dead = false;

  constructor() {
    this.worker = new Worker(new URL('./quickjs-worker.mjs', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('QuickJS worker did not start')), WORKER_START_TIMEOUT_MS);
      this.worker.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    this.ready.catch(() => this.kill());
    this.worker.on('message', (m: Reply | { ready: true }) => {
      if ('id' in m && this.pending) {
        const done = this.pending;
        this.pending = null;
        done(m);
      }
    });
    this.worker.on('error', () => this.kill());
    this.worker.on('exit', () => this.kill());
  }

  run(
    job: { id: number; code: string; tests: string[]; timeoutMs: number; memoryBytes: number; stackBytes: number },
    graceMs: number,
  ): Promise<Reply | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.kill(), job.timeoutMs + graceMs);
      this.pending = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.worker.postMessage(job);
    });
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    void this.worker.terminate();
    const done = this.pending;
    this.pending = null;
    done?.(null);
  }
}

const idle: SandboxWorker[] = [];
const waiting: (() => void)[] = [];
let busy = 0;
let nextId = 1;
const maxWorkers = Math.max(1, Math.min(4, availableParallelism() - 1));

async function acquire(): Promise<SandboxWorker> {
  while (busy >= maxWorkers) await new Promise<void>((resolve) => waiting.push(resolve));
  busy++;
  let w = idle.pop();
  while (w?.dead) w = idle.pop();
  return w ?? new SandboxWorker();
}

function release(w: SandboxWorker): void {
  busy--;
  if (!w.dead) idle.push(w);
  waiting.shift()?.();
}

/** Runs `code`, then each test (JS statements; `assert` and `assertEqual` are provided). */
export async function runJavaScriptTests(
  code: string,
  tests: string[],
  limits: JavaScriptLimits = {},
): Promise<CodeRunResult> {
  const timeoutMs = limits.timeoutMs ?? 5000;
  const worker = await acquire();
  try {
    await worker.ready;
    const reply = await worker.run(
      {
        id: nextId++,
        code,
        tests,
        timeoutMs,
        memoryBytes: limits.memoryBytes ?? 64 * 1024 ** 2,
        stackBytes: limits.stackBytes ?? 1024 ** 2,
      },
      limits.graceMs ?? 500,
    );
    if (!reply) {
      return {
        passed: 0,
        total: tests.length,
        results: tests.map(() => false),
        timedOut: true,
        outputTruncated: false,
        stdout: '',
        stderr: 'terminated at the hard deadline',
      };
    }
    const passed = reply.results.filter(Boolean).length;
    return {
      passed,
      total: tests.length,
      results: reply.results,
      timedOut: reply.timedOut,
      outputTruncated: false,
      codeError: reply.codeError,
      stdout: reply.console,
      stderr: reply.codeError ?? '',
    };
  } finally {
    release(worker);
  }
}

/** Terminates idle sandbox workers (they are unref'd, so this is only for tidy shutdowns). */
export function shutdownJavaScriptSandbox(): void {
  for (const w of idle.splice(0)) w.kill();
}
