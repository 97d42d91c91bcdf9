/**
 * A ggml compute backend. The CPU backend comes from ggml's registry, which loads every
 * `libggml-cpu-<microarch>.so` shipped in the npm package and keeps the best one this CPU supports.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import {
  ggml,
  koffi,
  setNThreadsProto,
  threadpoolNewProto,
  threadpoolFreeProto,
  setThreadpoolProto,
  getFeaturesProto,
  GGML_BIN_DIR,
  type Ptr,
} from './ffi.ts';
import { GrpoError } from '../errors.ts';
import { resolveDevice, type DeviceInfo } from './device.ts';
import { parseDevice } from './device-setting.ts';

/**
 * Threads: GRPO_THREADS if set, else one per physical core that other processes are not already using.
 * One per physical core as llama.cpp does: a second hyper-thread adds no matmul throughput. Minus the cores other
 * processes keep busy: ggml's workers spin at every op barrier, so a worker whose core another process holds stalls
 * the others for whole scheduler slices (measured: up to ~1000× slower decoding on a busy 2-core machine).
 */
export function defaultThreadCount(): number {
  const env = Number(process.env.GRPO_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  const cores = Math.max(1, Math.min(physicalCores() ?? Infinity, os.availableParallelism()));
  busyElsewhere ??= measureBusyElsewhere(cores);
  return Math.max(1, cores - busyElsewhere);
}

let busyElsewhere: number | undefined;

/** Jiffies of the whole machine (/proc/stat's first line) and of this process (/proc/self/stat utime + stime). */
export interface CpuSample {
  busy: number;
  total: number;
  self: number;
}

/**
 * Cores that other processes kept busy between two samples: the machine's busy time less this process's own, as a
 * share of all CPU time, times the cores. (The 1-minute load average, used before, also counted a run that had just
 * ended — so a second `npm start` right after the first ran on fewer threads.)
 */
export function coresBusyElsewhere(a: CpuSample, b: CpuSample, cores: number): number {
  const total = b.total - a.total;
  if (total <= 0) return 0;
  const others = Math.max(0, b.busy - a.busy - (b.self - a.self));
  return Math.min(cores - 1, Math.round((others / total) * cores));
}

function cpuSample(): CpuSample {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((x, y) => x + y, 0);
  const idle = fields[3] + fields[4];
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const own = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { busy: total - idle, total, self: Number(own[11]) + Number(own[12]) };
}

/** Sampled over 200 ms, once per process; the load average where /proc is not there (macOS, Windows). */
function measureBusyElsewhere(cores: number): number {
  try {
    const a = cpuSample();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    return coresBusyElsewhere(a, cpuSample(), cores);
  } catch {
    return Math.min(cores - 1, Math.floor(os.loadavg()[0]));
  }
}

/** Distinct (package, core) pairs in /proc/cpuinfo; null where that file is not available (macOS, Windows). */
function physicalCores(): number | null {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const cores = new Set<string>();
    for (const block of info.split(/\n\s*\n/)) {
      const pkg = /physical id\s*:\s*(\d+)/.exec(block)?.[1];
      const core = /core id\s*:\s*(\d+)/.exec(block)?.[1];
      if (pkg !== undefined && core !== undefined) cores.add(`${pkg}:${core}`);
    }
    return cores.size || null;
  } catch {
    return null;
  }
}

/** sizeof(struct ggml_threadpool_params): bool cpumask[512]; int n_threads, prio; uint32 poll; bool strict_cpu, paused */
const THREADPOOL_PARAMS_BYTES = 528;
const POLL_OFFSET = 520;

export class Backend {
  private freed = false;
  private pool: Ptr | null = null;
  private poolThreads = 0;
  private constructor(
    readonly ptr: Ptr,
    readonly name: string,
    readonly description: string,
    private threads: number,
    private readonly proc: (name: string) => Ptr | null,
    private readonly reg: Ptr,
    readonly device: DeviceInfo,
  ) {}

  /** The CPU features this backend build uses (ggml's names: AVX2, AVX512_BF16, NEON, …). */
  get features(): Set<string> {
    const get = this.proc('ggml_backend_get_features');
    const out = new Set<string>();
    if (!get) return out;
    const list: Ptr = koffi.call(get, getFeaturesProto, this.reg);
    // struct ggml_backend_feature { const char *name; const char *value; }, ended by a NULL name
    for (let i = 0; list; i++) {
      const [name, value] = [
        koffi.decode(list, 16 * i, 'const char *'),
        koffi.decode(list, 16 * i + 8, 'const char *'),
      ] as [string | null, string | null];
      if (name === null) break;
      if (value !== '0') out.add(name);
    }
    return out;
  }

  static cpu(opts: { threads?: number } = {}): Backend {
    return Backend.open({ ...opts, device: 'cpu' });
  }

  /**
   * The backend of a device: `device` is auto | cpu | vulkan[:N] | cuda[:N] | metal (default: GRPO_DEVICE, else
   * auto). Threads apply to the CPU; a GPU backend computes every op of a graph on the GPU.
   */
  static open(opts: { threads?: number; device?: string } = {}): Backend {
    const threads = opts.threads ?? defaultThreadCount();
    if (!Number.isInteger(threads) || threads < 1)
      throw new GrpoError('config', `threads must be a positive integer, got ${threads}`);
    const setting = opts.device ?? process.env.GRPO_DEVICE ?? 'auto';
    const device = resolveDevice(
      parseDevice(setting, opts.device === undefined && process.env.GRPO_DEVICE ? 'GRPO_DEVICE' : 'device'),
    );
    const ptr: Ptr = ggml.backend_dev_init(device.ptr, null);
    if (!ptr)
      throw new GrpoError('engine', `ggml could not start ${device.name} (${device.description}) from ${GGML_BIN_DIR}`);
    const reg = ggml.backend_dev_backend_reg(device.ptr);
    const proc = (name: string): Ptr | null => ggml.backend_reg_get_proc_address(reg, name) || null;
    const b = new Backend(ptr, ggml.backend_name(ptr) as string, device.description, threads, proc, reg, device);
    b.setThreads(threads);
    return b;
  }

  /** the CPU, whose buffers the host reads directly (a GPU's are copied over) */
  get isCpu(): boolean {
    return this.device.kind === 'cpu';
  }

  /** Whether this backend computes `op` (a graph node) as built; a GPU backend lacks some ops or shapes. */
  supportsOp(op: Ptr): boolean {
    return ggml.backend_supports_op(this.ptr, op);
  }

  get threadCount(): number {
    return this.threads;
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new GrpoError('config', `threads must be a positive integer, got ${n}`);
    this.threads = n;
    const setN = this.proc('ggml_backend_set_n_threads');
    if (setN) koffi.call(setN, setNThreadsProto, this.ptr, n);
    if (n > this.poolThreads) this.replacePool(n);
  }

  /**
   * A persistent worker pool: without one, ggml starts and joins its threads on every graph compute, which
   * dominates small graphs (a decoding step). Workers sleep between computes (poll 0) rather than spin, so an
   * idle model costs nothing and a busy machine is not made busier.
   */
  private replacePool(n: number): void {
    const create = this.proc('ggml_threadpool_new'),
      attach = this.proc('ggml_backend_cpu_set_threadpool'),
      release = this.proc('ggml_threadpool_free');
    if (!create || !attach || !release) return;
    const params = new Uint8Array(THREADPOOL_PARAMS_BYTES);
    ggml.threadpool_params_init(params, n);
    new DataView(params.buffer).setUint32(POLL_OFFSET, 0, true);
    const pool: Ptr = koffi.call(create, threadpoolNewProto, params);
    if (!pool) return;
    koffi.call(attach, setThreadpoolProto, this.ptr, pool);
    if (this.pool) koffi.call(release, threadpoolFreeProto, this.pool);
    this.pool = pool;
    this.poolThreads = n;
  }

  private companion: Backend | null = null;

  /** The CPU backend beside a GPU one: ggml's scheduler computes there the ops the GPU backend lacks. */
  get cpuCompanion(): Backend {
    if (this.isCpu) return this;
    this.companion ??= Backend.open({ device: 'cpu', threads: this.threads });
    return this.companion;
  }

  get bufferType(): Ptr {
    if (this.freed) throw new GrpoError('engine', `backend ${this.name} was used after free()`);
    return ggml.backend_get_default_buffer_type(this.ptr);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.companion?.free();
    ggml.backend_free(this.ptr);
    const release = this.proc('ggml_threadpool_free');
    if (this.pool && release) koffi.call(release, threadpoolFreeProto, this.pool);
    this.pool = null;
  }
}
