// The Python tool inside episodes: the code reward's sandbox limits hold, and a program that loops, allocates too
// much or opens a socket is stopped and the model reads why in the tool response — the episode goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pythonTool } from '../../src/rollout/tools/python-tool.ts';
import { plainFormat } from '../../src/rollout/tools/tool-format.ts';
import { toolEnvironment, type ToolEnvironmentOptions } from '../../src/rollout/tools/environment.ts';
import { callTool, toolbox } from '../../src/rollout/tools/tool.ts';
import { programLimit } from '../../src/rewards/code/program-limit.ts';
import { Episode, type AgentLoop } from '../../src/rollout/agent-loop.ts';
import type { Completion } from '../../src/rollout/completion.ts';

const noPython = spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false;

/** One model turn `text` through an episode with the Python tool; the text inserted after it (characters as ids). */
async function answer(
  text: string,
  env: ToolEnvironmentOptions = { timeoutMs: 20_000, maxResponseChars: 2000 },
): Promise<string | null> {
  const tools = [pythonTool({ timeoutMs: 3000, memoryBytes: 256 * 1024 ** 2 })];
  const format = plainFormat(tools);
  const loop: AgentLoop = {
    environment: () => toolEnvironment(tools, format, env),
    format,
    maxTurns: 4,
    encode: (t) => [...t].map((ch) => ch.codePointAt(0)!),
    decode: (ids) => String.fromCodePoint(...ids),
  };
  const ids = [...text].map((ch) => ch.codePointAt(0)!);
  const c: Completion = {
    promptIndex: 0,
    sampleIndex: 0,
    tokens: ids,
    logprobs: ids.map(() => -1),
    samplingLogprobs: [],
    sampledMask: ids.map(() => 1),
    finishReason: 'stop',
  };
  const episode = new Episode(loop, c, 100_000);
  const out = await episode.afterTurn();
  return out && String.fromCodePoint(...out);
}

test('python tool calls run in the sandbox and their output is the response', { skip: noPython }, async () => {
  assert.equal(await answer('<python>print(6 * 7)</python>'), '<tool_response>42\n</tool_response>');
  assert.match(
    (await answer('<python>1/0</python>'))!,
    /^<tool_response>[\s\S]*ZeroDivisionError[\s\S]*<\/tool_response>$/,
  );
});

test('a tool call that loops, allocates or opens a socket is stopped and reported to the model', {
  skip: noPython,
}, async () => {
  const started = performance.now();
  assert.equal(
    await answer('<python>while True: pass</python>'),
    '<tool_response>error: the program was stopped after 3 s (time limit)</tool_response>',
  );
  assert.ok(performance.now() - started < 10_000, 'the loop was killed at its time limit');
  assert.match((await answer('<python>x = bytearray(2 * 1024 ** 3)\nprint("allocated")</python>'))!, /MemoryError/);
  // a server on this machine's loopback: the sandboxed program must not reach it
  const server = createServer((s) => s.end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const reply = (await answer(
      `<python>import socket\ns = socket.create_connection(('127.0.0.1', ${port}), timeout=2)\nprint('connected', s.recv(5))</python>`,
    ))!;
    assert.doesNotMatch(reply, /connected/);
    assert.match(reply, /Error/);
  } finally {
    server.close();
  }
});

test("an error reads exception first, then the program's own frames, within the default 256 characters", {
  skip: noPython,
}, async () => {
  // the environment's defaults: responses cut at 256 characters
  const reply = (await answer('<python>def f(x):\n    return 1 / x\n\nf(0)</python>', {}))!;
  assert.equal(
    reply,
    [
      '<tool_response>ZeroDivisionError: division by zero',
      'Traceback (most recent call last):',
      '  File "solution.py", line 4, in <module>',
      '    f(0)',
      '  File "solution.py", line 2, in f',
      '    return 1 / x',
      'exit status 1</tool_response>',
    ].join('\n'),
  );
  // a long traceback is cut after its first line, which says what went wrong
  const deep = (await answer('<python>import json\njson.loads("{" * 3)</python>', {}))!;
  assert.match(deep, /^<tool_response>json\.decoder\.JSONDecodeError: Expecting property name/);
  assert.doesNotMatch(deep, /harness/);
});

test('exit ends a call at once, with what the program printed and its exit status', { skip: noPython }, async () => {
  for (const exit of ['sys.exit(3)', 'exit(3)', 'raise SystemExit(3)', 'os._exit(3)'])
    assert.equal(
      await answer(`<python>import sys, os\nprint('partial')\n${exit}\nprint('after')</python>`),
      '<tool_response>partial\nexit status 3</tool_response>',
      exit,
    );
  assert.equal(
    await answer('<python>import sys\nprint(1)\nsys.exit(0)</python>'),
    '<tool_response>1\n</tool_response>',
  );
});

test("one turn's many calls run a bounded number of programs at once, each answered in order", {
  skip: noPython,
}, async () => {
  // each program records when it slept; with 2 at once, no three of those intervals overlap
  const tools = [pythonTool({ timeoutMs: 10_000, memoryBytes: 256 * 1024 ** 2, concurrency: 2 })];
  const env = toolEnvironment(tools, plainFormat(tools), { timeoutMs: 60_000, maxResponseChars: 1000 });
  const program = (i: number) =>
    `<python>import time\nstart = time.monotonic()\ntime.sleep(0.6)\nprint(${i}, start, time.monotonic())</python>`;
  const reply = await env.step(Array.from({ length: 8 }, (_, i) => program(i)).join(''));
  assert.equal(reply.toolCalls, 8);
  assert.equal(reply.toolErrors, 0, reply.responses!.join('|'));
  const spans = reply.responses!.map((r, i) => {
    const [index, start, end] = r.trim().split(' ').map(Number);
    assert.equal(index, i);
    return [start, end];
  });
  const most = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
  assert.ok(most <= 2, `${most} programs ran at once`);
});

test('the bound defaults to the CPUs (as the code reward), refuses nonsense, and a call whose time ran out never starts', {
  skip: noPython,
}, async () => {
  assert.equal(programLimit(undefined, 'python tool').concurrency, availableParallelism());
  assert.throws(() => pythonTool({ concurrency: 0 }), /python tool: concurrency must be a whole number .* got 0/);
  assert.throws(() => pythonTool({ concurrency: 1.5 }), /got 1\.5/);
  await assert.rejects(
    Promise.resolve(pythonTool().run({ code: 'print(1)' }, AbortSignal.abort())),
    /ran out of time before its program started/,
  );
  // one program at a time: the first loops for its whole time limit, the second's call times out while it waits
  const tools = toolbox([pythonTool({ timeoutMs: 2000, concurrency: 1 })]);
  const first = callTool(tools, { name: 'python', arguments: { code: 'while True: pass' } }, 10_000);
  const second = await callTool(tools, { name: 'python', arguments: { code: 'print("ran")' } }, 300);
  assert.deepEqual(second, { name: 'python', content: "error: tool 'python' timed out after 300 ms", ok: false });
  // a stopped program is a failed call, as a timed-out one is
  assert.deepEqual(await first, {
    name: 'python',
    content: 'error: the program was stopped after 2 s (time limit)',
    ok: false,
  });
});
