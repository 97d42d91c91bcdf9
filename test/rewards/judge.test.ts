import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeReward, createJudgeClient, parseCorrectIncorrect } from '../../src/rewards/judge.ts';

interface Seen {
  bodies: { model: string; messages: { role: string; content: string }[] }[];
  maxInFlight: number;
  auth: (string | undefined)[];
}

/** A tiny OpenAI-compatible server on 127.0.0.1 that fails the first `failFirst` requests with 503. */
async function startJudgeServer(
  failFirst = 0,
  delayMs = 20,
): Promise<{ url: string; seen: Seen; close: () => Promise<void> }> {
  const seen: Seen = { bodies: [], maxInFlight: 0, auth: [] };
  let inFlight = 0;
  let count = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      count++;
      inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, inFlight);
      seen.auth.push(req.headers.authorization);
      setTimeout(() => {
        inFlight--;
        if (req.url !== '/v1/chat/completions') {
          res.writeHead(404).end();
          return;
        }
        if (count <= failFirst) {
          res.writeHead(503, { 'retry-after': '0' }).end('busy');
          return;
        }
        const body = JSON.parse(raw);
        seen.bodies.push(body);
        const user = body.messages[body.messages.length - 1].content as string;
        const verdict = user.includes('Response:\n42') ? 'The response matches. CORRECT' : 'INCORRECT';
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: verdict } }] }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('parseCorrectIncorrect takes the last verdict word', () => {
  assert.equal(parseCorrectIncorrect('INCORRECT at first, but on reflection CORRECT'), 1);
  assert.equal(parseCorrectIncorrect('correct? no: incorrect'), 0);
  assert.throws(() => parseCorrectIncorrect('maybe'), /no CORRECT\/INCORRECT/);
});

test('judge scores through the endpoint, limits concurrency and caches identical requests', async () => {
  const server = await startJudgeServer(0, 30);
  try {
    const reward = judgeReward({ baseUrl: server.url, model: 'judge-1', apiKey: 'k', concurrency: 2 });
    const sample = { prompt: 'What is 6·7?', answer: '42' };
    const completions = ['42', '41', '40', '39', '42', '41'];
    const scores = await Promise.all(completions.map((c) => reward(c, sample)));
    assert.deepEqual(scores, [1, 0, 0, 0, 1, 0]);
    assert.equal(server.seen.bodies.length, 4, 'duplicates answered from the cache');
    assert.ok(server.seen.maxInFlight <= 2, `in flight ${server.seen.maxInFlight}`);
    assert.equal(server.seen.bodies[0].model, 'judge-1');
    assert.equal(server.seen.auth[0], 'Bearer k');
  } finally {
    await server.close();
  }
});

test('judge retries 5xx with back-off, then succeeds', async () => {
  const server = await startJudgeServer(2, 1);
  try {
    const client = createJudgeClient({ baseUrl: server.url, model: 'm', retries: 3, backoffMs: 1 });
    assert.equal(await client.complete([{ role: 'user', content: 'Response:\n42' }]), 'The response matches. CORRECT');
    assert.equal(client.requestsSent, 3);
  } finally {
    await server.close();
  }
});

test('judge gives up after the retries with a clear error', async () => {
  const server = await startJudgeServer(100, 1);
  try {
    const client = createJudgeClient({ baseUrl: server.url, model: 'm', retries: 1, backoffMs: 1 });
    await assert.rejects(client.complete([{ role: 'user', content: 'x' }]), /answered 503 \(after 2 attempts\)/);
  } finally {
    await server.close();
  }
});

test('the on-disk cache answers a new client without any request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-judge-'));
  const server = await startJudgeServer(0, 1);
  try {
    const messages = [{ role: 'user' as const, content: 'Response:\n42' }];
    const first = createJudgeClient({ baseUrl: server.url, model: 'm', cacheDir: dir });
    await first.complete(messages);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.json')).length, 1);
    const second = createJudgeClient({ baseUrl: server.url, model: 'm', cacheDir: dir });
    assert.equal(await second.complete(messages), 'The response matches. CORRECT');
    assert.equal(second.requestsSent, 0);
    assert.equal(server.seen.bodies.length, 1);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
