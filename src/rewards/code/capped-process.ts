/**
 * A child process with caps: a process group of its own (so a kill reaches everything it started), killed at a
 * wall-time limit or as soon as one of its outputs (stdout, stderr, and a third channel on fd 3) passes a byte
 * limit; the environment holds nothing of ours but PATH. python.ts runs its harness through it.
 */
import { spawn } from 'node:child_process';
import { GrpoError } from '../../errors.ts';

export interface CappedLimits {
  /** Wall-clock limit in ms. */
  timeoutMs: number;
  /** Bytes kept of each output; more kills the process. */
  outputBytes: number;
}

export interface ProcessOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** What it wrote to fd 3. */
  results: string;
  timedOut: boolean;
  outputTruncated: boolean;
}

/** The child's environment: nothing of ours but PATH; its home and temp directory are its throwaway directory. */
function sandboxEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    TMPDIR: dir,
    LANG: 'C.UTF-8',
    PYTHONIOENCODING: 'utf-8',
  };
}

type OutputChannel = 'stdout' | 'stderr' | 'results';

/** The child's stdout, stderr and fd 3 (the harness's verdicts), each kept up to `limitBytes`; a byte more calls `onOverflow`. */
class CappedOutput {
  private readonly chunks: Record<OutputChannel, Buffer[]> = { stdout: [], stderr: [], results: [] };
  private readonly sizes: Record<OutputChannel, number> = { stdout: 0, stderr: 0, results: 0 };
  truncated = false;

  constructor(
    private readonly limitBytes: number,
    private readonly onOverflow: () => void,
  ) {}

  collector(name: OutputChannel): (data: Buffer) => void {
    return (data) => {
      if (this.sizes[name] + data.length > this.limitBytes) {
        this.truncated = true;
        this.chunks[name].push(data.subarray(0, Math.max(0, this.limitBytes - this.sizes[name])));
        this.sizes[name] = this.limitBytes;
        this.onOverflow();
        return;
      }
      this.sizes[name] += data.length;
      this.chunks[name].push(data);
    };
  }

  text(name: OutputChannel): string {
    return Buffer.concat(this.chunks[name]).toString('utf8');
  }
}

/**
 * Runs `cmd` in `dir` as a process group of its own, fed `stdin`; the whole group is killed at limits.timeoutMs,
 * when an output passes limits.outputBytes, or when `signal` aborts (whoever waited for it has gone).
 */
export function runCapped(
  cmd: string[],
  dir: string,
  stdin: string,
  limits: CappedLimits,
  signal?: AbortSignal,
): Promise<ProcessOutcome> {
  return new Promise<ProcessOutcome>((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), {
      cwd: dir,
      detached: true, // own process group, so the kill reaches anything it started
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: sandboxEnv(dir),
    });
    let timedOut = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const output = new CappedOutput(limits.outputBytes, killGroup);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, limits.timeoutMs);
    signal?.addEventListener('abort', killGroup, { once: true });
    child.stdout!.on('data', output.collector('stdout'));
    child.stderr!.on('data', output.collector('stderr'));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', output.collector('results'));
    child.stdin!.on('error', () => {}); // the program may exit before reading its input
    child.stdin!.end(stdin);
    child.on('error', (e) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', killGroup);
      reject(new GrpoError('reward', `python code reward: failed to start ${cmd[0]}: ${e.message}`));
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', killGroup);
      resolve({
        exitCode,
        stdout: output.text('stdout'),
        stderr: output.text('stderr'),
        results: output.text('results'),
        timedOut,
        outputTruncated: output.truncated,
      });
    });
  });
}
