/**
 * The Python tool (ReTool, ToRL): model-written code runs in the code reward's sandbox — the same wall-time,
 * CPU, memory, file-size and output caps and network isolation — and its output is the response. A program that
 * loops, allocates too much or reaches for the network is stopped, and the model reads why.
 */
import { runPython, type PythonLimits } from '../../rewards/code/python.ts';
import type { Tool } from './tool.ts';

/** Output shown to the model at most (the sandbox itself caps what it keeps at outputBytes). */
const MAX_SHOWN = 4000;

export function pythonTool(limits: PythonLimits = {}): Tool {
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
    run: async (args) => {
      const r = await runPython(String(args.code), '', limits);
      if (r.timedOut) return `error: the program was stopped after ${seconds} s (time limit)`;
      if (r.outputTruncated) return 'error: the program was stopped for printing too much output';
      let text = r.stdout + (r.stderr ? (r.stdout ? '\n' : '') + r.stderr : '');
      if (r.exitCode !== 0 && !r.stderr) text += `${text ? '\n' : ''}error: exit status ${r.exitCode ?? 'killed'}`;
      if (text.length > MAX_SHOWN) text = `${text.slice(0, MAX_SHOWN)}…(output cut)`;
      return text || '(no output)';
    },
  };
}
