/**
 * Runs model-written Python against test cases in a subprocess: a throwaway directory (removed
 * afterwards), wall-time kill of the whole process group and capped output (capped-process.ts),
 * CPU/memory/file-size limits, and the audit-hook preamble of python-harness.ts. Where the machine allows, the process also gets
 * its own network namespace (`unshare --net`: no interface but a downed loopback) and, when we are
 * root, runs as user nobody (`setpriv`), so file writes outside its directory fail in the kernel too.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCapped, type ProcessOutcome } from './capped-process.ts';
import { PYTHON_HARNESS } from './python-harness.ts';
import { GrpoError } from '../../errors.ts';

export interface PythonLimits {
  /** Wall-clock limit for one process in ms. Default 10 000. */
  timeoutMs?: number;
  /** Time limit of a single assert test in ms (SIGALRM inside the process). Default 4000. */
  testTimeoutMs?: number;
  /** Address-space limit in bytes (RLIMIT_AS). Default 1 GiB. */
  memoryBytes?: number;
  /** Largest file the code may write, in bytes (RLIMIT_FSIZE). Default 16 MiB. */
  fileBytes?: number;
  /** Bytes of stdout and of stderr kept; more kills the process. Default 1 MiB. */
  outputBytes?: number;
  /** Python executable. Default 'python3'. */
  python?: string;
  /**
   * Run even where the machine offers no network namespace (`unshare --net`), with the in-process audit hook as the
   * only barrier — not a security boundary. Default: refuse (or GRPO_ALLOW_WEAK_SANDBOX=1).
   */
  allowWeakIsolation?: boolean;
}

/** One stdin/stdout test: run the program with `input` on stdin, expect `output` on stdout. */
export interface IoTestCase {
  input: string;
  output: string;
}

export interface CodeRunResult {
  passed: number;
  total: number;
  /** Per test: true = passed. */
  results: boolean[];
  timedOut: boolean;
  outputTruncated: boolean;
  /** Error raised by the code itself before any test ran (assert mode), e.g. 'SyntaxError'. */
  codeError?: string;
  stdout: string;
  stderr: string;
}

export interface PythonIsolation {
  /** Command prefix put before the Python executable. */
  prefix: string[];
  /** The interpreter's real path (shims resolved). */
  executable: string;
  network: 'namespace' | 'audit-hook only';
  user: 'nobody' | 'current';
}

const NOBODY = 65534;
const isolationCache = new Map<string, PythonIsolation>();

/**
 * The strongest isolation this machine supports (probed once per Python executable; shims such as pyenv's
 * are resolved to the real interpreter first, and one the user nobody cannot read rules out dropping to nobody).
 * Without a network namespace it refuses, unless weak isolation is allowed explicitly — and then says so loudly.
 */
export function pythonIsolation(
  python = 'python3',
  allowWeak = process.env.GRPO_ALLOW_WEAK_SANDBOX === '1',
): PythonIsolation {
  const found = strongestIsolation(python);
  if (found.network === 'namespace') return found;
  if (!allowWeak) {
    throw new GrpoError(
      'reward',
      'python code reward: this machine gives model-written code no network namespace (`unshare --net` is missing or not permitted), ' +
        'so it could reach the network and other processes through paths an in-process audit hook cannot close. Install util-linux and run as root or with ' +
        'unprivileged user namespaces enabled (sysctl kernel.unprivileged_userns_clone=1), or accept the weaker sandbox explicitly with GRPO_ALLOW_WEAK_SANDBOX=1 ' +
        "(or the code reward's options.python.allowWeakIsolation: true)",
    );
  }
  if (!warnedWeak) {
    warnedWeak = true;
    console.error(
      'WARNING: python code reward runs model-written code WITHOUT a network namespace (GRPO_ALLOW_WEAK_SANDBOX / allowWeakIsolation): ' +
        'only the in-process audit hook stands between it and your network, files and processes.',
    );
  }
  return found;
}

let warnedWeak = false;

function strongestIsolation(python: string): PythonIsolation {
  const cached = isolationCache.get(python);
  if (cached) return cached;
  const probe = spawnSync(python, ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: tmpdir(),
  });
  if (probe.status !== 0 || !probe.stdout.trim()) {
    throw new GrpoError(
      'reward',
      `python code reward: cannot run '${python}'; install Python 3.8+ or pass the python option with its path`,
    );
  }
  const executable = probe.stdout.trim();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dropToNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
  const candidates: PythonIsolation[] = isRoot
    ? [
        { prefix: ['unshare', '--net', '--', ...dropToNobody], executable, network: 'namespace', user: 'nobody' },
        { prefix: ['unshare', '--net', '--'], executable, network: 'namespace', user: 'current' },
        { prefix: dropToNobody, executable, network: 'audit-hook only', user: 'nobody' },
      ]
    : [{ prefix: ['unshare', '--net', '--map-root-user', '--'], executable, network: 'namespace', user: 'current' }];
  candidates.push({ prefix: [], executable, network: 'audit-hook only', user: 'current' });
  for (const c of candidates) {
    const cmd = [...c.prefix, executable, '-c', 'pass'];
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'ignore', timeout: 10_000, cwd: tmpdir() });
    if (r.status === 0) {
      isolationCache.set(python, c);
      return c;
    }
  }
  throw new GrpoError('reward', `python code reward: cannot run '${executable}'; check the python option`);
}

function resolveLimits(l: PythonLimits): Required<PythonLimits> {
  return {
    timeoutMs: l.timeoutMs ?? 10_000,
    testTimeoutMs: l.testTimeoutMs ?? 4000,
    memoryBytes: l.memoryBytes ?? 1024 ** 3,
    fileBytes: l.fileBytes ?? 16 * 1024 ** 2,
    outputBytes: l.outputBytes ?? 1024 ** 2,
    python: l.python ?? 'python3',
    allowWeakIsolation: l.allowWeakIsolation ?? process.env.GRPO_ALLOW_WEAK_SANDBOX === '1',
  };
}

/** What the harness reads from job.json: the code, its tests, and the limits it sets on itself (python-harness.ts). */
function harnessJob(
  mode: 'assert' | 'io',
  code: string,
  tests: string[],
  nonce: string,
  limits: Required<PythonLimits>,
) {
  return {
    mode,
    code,
    tests,
    nonce,
    memory_bytes: limits.memoryBytes,
    file_bytes: limits.fileBytes,
    cpu_seconds: Math.ceil(limits.timeoutMs / 1000) + 1,
    test_seconds: limits.testTimeoutMs / 1000,
  };
}

/** Runs the harness on one job in a throwaway directory (removed afterwards), with the strongest isolation here. */
async function runHarness(
  mode: 'assert' | 'io',
  code: string,
  tests: string[],
  stdin: string,
  nonce: string,
  limits: Required<PythonLimits>,
  signal?: AbortSignal,
): Promise<ProcessOutcome> {
  const isolation = pythonIsolation(limits.python, limits.allowWeakIsolation);
  const dir = await mkdtemp(join(tmpdir(), 'grpo-py-'));
  try {
    const harnessPath = join(dir, 'harness.py');
    const jobPath = join(dir, 'job.json');
    await writeFile(harnessPath, PYTHON_HARNESS);
    await writeFile(jobPath, JSON.stringify(harnessJob(mode, code, tests, nonce, limits)));
    if (isolation.user === 'nobody') {
      for (const p of [dir, harnessPath, jobPath]) await chown(p, NOBODY, NOBODY);
    }
    const cmd = [...isolation.prefix, isolation.executable, '-I', harnessPath, jobPath];
    return await runCapped(cmd, dir, stdin, limits, signal);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `code`, then each test (Python statements, e.g. "assert f(2) == 4") in the same namespace.
 * A test passes when it raises nothing within its time limit.
 */
export async function runPythonAssertTests(
  code: string,
  tests: string[],
  limits: PythonLimits = {},
): Promise<CodeRunResult> {
  const l = resolveLimits(limits);
  const nonce = randomBytes(16).toString('hex');
  const out = await runHarness('assert', code, tests, '', nonce, l);
  const { results, codeError } = parseVerdicts(out.results, nonce, tests.length);
  const passed = results.filter(Boolean).length;
  return {
    passed,
    total: tests.length,
    results,
    timedOut: out.timedOut,
    outputTruncated: out.outputTruncated,
    codeError,
    stdout: out.stdout,
    stderr: out.stderr,
  };
}

/**
 * The harness's verdict lines ("<nonce> <i> pass|fail", "<nonce> code <Error>"): a test passes on exactly one
 * line for it, saying pass. Lines without the nonce are ignored; two lines for one test (which the harness never
 * writes) fail it.
 */
export function parseVerdicts(text: string, nonce: string, tests: number): { results: boolean[]; codeError?: string } {
  const results = new Array<boolean>(tests).fill(false);
  const lines = new Array<number>(tests).fill(0);
  let codeError: string | undefined;
  for (const line of text.split('\n')) {
    const [tag, index, verdict] = line.split(' ');
    if (tag !== nonce) continue;
    if (index === 'code') {
      codeError = verdict;
      continue;
    }
    const i = Number(index);
    if (!Number.isInteger(i) || i < 0 || i >= tests) continue;
    results[i] = ++lines[i] === 1 && verdict === 'pass';
  }
  return { results, codeError };
}

/** What one run of a program printed, for tools that show the output to the model (rollout/tools/python-tool.ts). */
export interface PythonRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  outputTruncated: boolean;
}

/**
 * Runs `code` once in the sandbox, with `stdin`, under the same limits as the code reward; `signal` stops it (an
 * uncaught exception is on stderr message first, then the program's own frames; exits keep what it printed).
 */
export async function runPython(
  code: string,
  stdin = '',
  limits: PythonLimits = {},
  signal?: AbortSignal,
): Promise<PythonRun> {
  const out = await runHarness('io', code, [], stdin, randomBytes(16).toString('hex'), resolveLimits(limits), signal);
  return {
    exitCode: out.exitCode,
    stdout: out.stdout,
    stderr: out.stderr,
    timedOut: out.timedOut,
    outputTruncated: out.outputTruncated,
  };
}

/** Trailing whitespace and blank lines do not count (competitive-programming judges ignore them). */
function normalizeOutput(s: string): string {
  return s
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trimEnd();
}

/** Runs `code` once per case with its input on stdin; a case passes on exit 0 with the expected stdout. */
export async function runPythonIoTests(
  code: string,
  cases: IoTestCase[],
  limits: PythonLimits = {},
): Promise<CodeRunResult> {
  const l = resolveLimits(limits);
  const results: boolean[] = [];
  let timedOut = false;
  let outputTruncated = false;
  let stdout = '';
  let stderr = '';
  for (const c of cases) {
    const out = await runHarness('io', code, [], c.input, randomBytes(16).toString('hex'), l);
    results.push(
      out.exitCode === 0 &&
        !out.timedOut &&
        !out.outputTruncated &&
        normalizeOutput(out.stdout) === normalizeOutput(c.output),
    );
    timedOut ||= out.timedOut;
    outputTruncated ||= out.outputTruncated;
    stdout = out.stdout;
    stderr = out.stderr;
  }
  const passed = results.filter(Boolean).length;
  return { passed, total: cases.length, results, timedOut, outputTruncated, stdout, stderr };
}
