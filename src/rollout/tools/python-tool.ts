/**
 * The Python tool (ReTool, ToRL): model-written code runs in the code reward's sandbox — the same wall-time,
 * CPU, memory, file-size and output caps and network isolation — and its output is the response. A program that
 * loops, allocates too much or reaches for the network is stopped, and the model reads why. Calls share one bound on
 * the programs running at once (program-limit.ts, as the code reward's), so 32 calls in one turn take at most
 * concurrency × the memory cap; a call waiting for its turn counts against the call's time-out.
 */
import { runPython, type PythonLimits, type PythonRun } from '../../rewards/code/python.ts';
import { programLimit } from '../../rewards/code/program-limit.ts';
import type { Tool } from './tool.ts';

/** Output shown to the model at most (the sandbox itself caps what it keeps at outputBytes). */
const MAX_SHOWN = 4000;

export interface PythonToolOptions extends PythonLimits {
  /** programs running at once, for every episode of the run together (default: the CPUs) */
  concurrency?: number;
}

export function pythonTool(opts: PythonToolOptions = {}): Tool {
  const { concurrency, ...limits } = opts;
  const limit = programLimit(concurrency, 'python tool');
  const seconds = (limits.timeoutMs ?? 10_000) / 1000;
  return {
    name: 'python',
    description:
      'Run a Python 3 program and return what it prints (stdout, then stderr). No network; time and memory are limited.',
    parameters: {
      type: 'object',
      properties: { code: { type: 'string', description: 'the program; print the results you need' } },
      required: ['code'],
    },
    // a stop (time limit, output flood) throws, so that it counts as a failed call, as the call's own time-out does
    run: (args, signal) =>
      limit(async () => {
        if (signal?.aborted) throw new Error('the call ran out of time before its program started');
        const r = await runPython(String(args.code), '', limits, signal);
        if (r.timedOut) throw new Error(`the program was stopped after ${seconds} s (time limit)`);
        if (r.outputTruncated) throw new Error('the program was stopped for printing too much output');
        return response(r);
      }),
  };
}

/** stdout, then stderr (an error's message first), then a status other than 0 (sys.exit(3): "exit status 3"). */
function response(r: PythonRun): string {
  const lines = (a: string, b: string) => (a && b && !a.endsWith('\n') ? `${a}\n${b}` : a + b);
  let text = lines(r.stdout, r.stderr);
  if (r.exitCode !== 0) text = lines(text, r.exitCode === null ? 'killed by a signal' : `exit status ${r.exitCode}`);
  if (text.length > MAX_SHOWN) text = `${text.slice(0, MAX_SHOWN)}…(output cut)`;
  return text || '(no output)';
}
