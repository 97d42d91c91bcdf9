/**
 * Time-limited symbolic comparison. The CAS (mathjs, in symbolic-core.cjs) runs in a worker thread;
 * the caller blocks on a shared Int32Array with Atomics.wait and a deadline, and a comparison that is
 * still running at the deadline gets its worker terminated (V8 stops even a tight loop) and counts as
 * "not equal". A replacement starts loading at once, in the background; a call that needs it before it is
 * ready waits for it within that call's own budget, so a runaway comparison never lengthens a later call.
 * Only the process's first worker is waited for outside any budget (prepareSymbolicWorker).
 * Inputs are also bounded (latex-parser MAX_EXPRESSION_CHARS, symbolic-core's cost check) so the usual cost
 * is well under 1 ms.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { ComparisonMode, SymbolicVerdict } from './symbolic-core.cjs';

export type { ComparisonMode, SymbolicVerdict };
export type SymbolicResult = SymbolicVerdict | 'timeout';

const READY = 0;
const RESULT = 1;
const PENDING = 0;
const CODE_TO_VERDICT: Record<number, SymbolicVerdict> = { 1: 'equal', 2: 'different', 3: 'unknown', 4: 'unknown' };
/** Loading mathjs in a fresh worker takes ~1 s; allow for a slow machine. */
const WORKER_START_TIMEOUT_MS = 30_000;

let worker: Worker | null = null;
let control: Int32Array | null = null;
let startedAt = 0;
let workerUnavailable = false;
/** Whether a worker has loaded in this process: after that, waiting for one is charged to the calls that need it. */
let loadedOnce = false;
let inlineCompare: ((a: string, b: string, mode: ComparisonMode, tolerance: number) => SymbolicVerdict) | null = null;

/** Starts the worker without waiting for it; false when worker threads are unavailable here. */
function spawnWorker(): boolean {
  if (worker && control) return true;
  if (workerUnavailable) return false;
  const shared = new SharedArrayBuffer(8);
  control = new Int32Array(shared);
  try {
    // The heap cap turns a memory-hungry comparison into a dead worker (→ timeout) instead of a dead host.
    worker = new Worker(new URL('./symbolic-worker.mjs', import.meta.url), {
      workerData: { control: shared },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
  } catch {
    workerUnavailable = true;
    return false;
  }
  startedAt = Date.now();
  const started = worker;
  started.unref();
  started.on('error', () => {
    if (worker === started) stopWorker();
  });
  return true;
}

/** Waits up to `timeoutMs` for the worker to have loaded mathjs; one that never comes up is given up for good. */
function workerReady(timeoutMs: number): boolean {
  if (Atomics.load(control!, READY) === 1) return (loadedOnce = true);
  Atomics.wait(control!, READY, 0, Math.min(timeoutMs, Math.max(0, startedAt + WORKER_START_TIMEOUT_MS - Date.now())));
  if (Atomics.load(control!, READY) === 1) return (loadedOnce = true);
  if (Date.now() - startedAt >= WORKER_START_TIMEOUT_MS) {
    stopWorker();
    workerUnavailable = true;
  }
  return false;
}

/**
 * Makes sure the process's first CAS worker is loaded before a grading call's budget starts: loading mathjs
 * (about a second, more on a busy machine) is infrastructure, like loading a model, and is not charged to the
 * answer being graded. Later (after a runaway comparison had its worker stopped) it only starts a worker and
 * returns: a call then waits for the replacement within its own budget, so every call stays inside its budget.
 */
export function prepareSymbolicWorker(): void {
  if (spawnWorker() && !loadedOnce) workerReady(WORKER_START_TIMEOUT_MS);
}

function stopWorker(): void {
  if (worker) void worker.terminate();
  worker = null;
  control = null;
}

/** Fallback when worker threads cannot start: same comparison in this thread, bounded only by input size. */
function compareInline(a: string, b: string, mode: ComparisonMode, tolerance: number): SymbolicVerdict {
  if (!inlineCompare) {
    const core = createRequire(import.meta.url)('./symbolic-core.cjs') as typeof import('./symbolic-core.cjs');
    inlineCompare = core.compareExpressions;
  }
  try {
    return inlineCompare(a, b, mode, tolerance);
  } catch {
    return 'unknown';
  }
}

/**
 * Compares two mathjs-syntax expressions within `timeoutMs` (worker start-up included).
 * 'equal' / 'different' / 'unknown' come from the CAS; 'timeout' means it was stopped.
 */
export function compareSymbolically(
  a: string,
  b: string,
  mode: ComparisonMode,
  tolerance: number,
  timeoutMs: number,
): SymbolicResult {
  const start = Date.now();
  if (!spawnWorker()) return compareInline(a, b, mode, tolerance);
  if (!workerReady(timeoutMs)) return workerUnavailable ? compareInline(a, b, mode, tolerance) : 'timeout';
  const ctl = control!;
  Atomics.store(ctl, RESULT, PENDING);
  worker!.postMessage({ a, b, mode, tolerance });
  const left = Math.max(1, timeoutMs - (Date.now() - start));
  if (Atomics.wait(ctl, RESULT, PENDING, left) === 'timed-out' && Atomics.load(ctl, RESULT) === PENDING) {
    stopWorker();
    spawnWorker(); // the replacement loads while the caller goes on
    return 'timeout';
  }
  return CODE_TO_VERDICT[Atomics.load(ctl, RESULT)] ?? 'unknown';
}

/** Stops the CAS worker (tests and short scripts; it is unref'd, so a process exits without this). */
export function shutdownSymbolicWorker(): void {
  stopWorker();
  loadedOnce = false;
}
