// The Python tool inside episodes: the code reward's sandbox limits hold, and a program that loops, allocates too
// much or opens a socket is stopped and the model reads why in the tool response — the episode goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { pythonTool } from '../../src/rollout/tools/python-tool.ts';
import { plainFormat } from '../../src/rollout/tools/tool-format.ts';
import { toolEnvironment } from '../../src/rollout/tools/environment.ts';
import { Episode, type AgentLoop } from '../../src/rollout/agent-loop.ts';
import type { Completion } from '../../src/rollout/completion.ts';

const noPython = spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false;

/** One model turn `text` through an episode with the Python tool; the text inserted after it (characters as ids). */
async function answer(text: string): Promise<string | null> {
  const tools = [pythonTool({ timeoutMs: 3000, memoryBytes: 256 * 1024 ** 2 })];
  const format = plainFormat(tools);
  const loop: AgentLoop = {
    environment: () => toolEnvironment(tools, format, { timeoutMs: 20_000, maxResponseChars: 2000 }),
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
