// OpenAIClient against a scripted HTTP server on 127.0.0.1: request mapping, retries and back-off,
// Retry-After, timeouts, non-retriable errors, caches (memory, disk, in-flight sharing) and the concurrency cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { requestCacheKey, canonicalJson } from '../../src/rollout/openai-client-cache.ts';
import { backoffDelayMs, parseRetryAfter, defaultRetryPolicy } from '../../src/rollout/openai-client-retry.ts';
import { GrpoError } from '../../src/errors.ts';
import { Rng } from '../../src/util/rng.ts';

type Handler = (
  req: IncomingMessage,
  body: Record<string, unknown>,
  res: ServerResponse,
  hit: number,
) => void | Promise<void>;

/** A server that answers with `handler`; counts hits and records bodies and the peak number in flight. */
async function withServer(
  handler: Handler,
  fn: (
    url: string,
    info: { hits: () => number; bodies: Record<string, unknown>[]; peak: () => number },
  ) => Promise<void>,
): Promise<void> {
  let hits = 0;
  let inFlight = 0;
  let peak = 0;
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', async () => {
      const body = data ? (JSON.parse(data) as Record<string, unknown>) : {};
      bodies.push(body);
      const hit = hits++;
      inFlight++;
      peak = Math.max(peak, inFlight);
      res.on('close', () => inFlight--);
      await handler(req, body, res, hit);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await fn(`http://127.0.0.1:${port}/v1`, { hits: () => hits, bodies, peak: () => peak });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

const chatOk = (text: string) => ({
  choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1 },
});

/** records requested sleeps without waiting */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

test('chat: sends the OpenAI fields and maps choices (by index), finish reasons, logprobs and usage', async () => {
  await withServer(
    (req, _body, res) => {
      assert.equal(req.url, '/v1/chat/completions');
      assert.equal(req.headers.authorization, 'Bearer sk-test');
      json(res, 200, {
        choices: [
          { index: 1, message: { content: 'second' }, finish_reason: 'length', logprobs: null },
          {
            index: 0,
            message: { content: 'first' },
            finish_reason: 'stop',
            logprobs: {
              content: [
                {
                  token: 'fir',
                  logprob: -0.5,
                  top_logprobs: [
                    { token: 'fir', logprob: -0.5 },
                    { token: 'x', logprob: -2 },
                  ],
                },
              ],
            },
          },
        ],
        usage: { prompt_tokens: 7, completion_tokens: 4 },
      });
    },
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: `${url}/`, model: 'm1', apiKey: 'sk-test' });
      const r = await client.chat([{ role: 'user', content: 'hi' }], {
        n: 2,
        temperature: 0.5,
        topP: 0.9,
        maxTokens: 16,
        stop: ['\n'],
        logprobs: true,
        topLogprobs: 2,
        seed: 7,
      });
      assert.deepEqual(info.bodies[0], {
        model: 'm1',
        messages: [{ role: 'user', content: 'hi' }],
        n: 2,
        temperature: 0.5,
        top_p: 0.9,
        max_tokens: 16,
        stop: ['\n'],
        logprobs: true,
        top_logprobs: 2,
        seed: 7,
      });
      assert.deepEqual(
        r.choices.map((c) => [c.text, c.finishReason]),
        [
          ['first', 'stop'],
          ['second', 'length'],
        ],
      );
      assert.deepEqual(r.choices[0].logprobs, [
        {
          token: 'fir',
          logprob: -0.5,
          topLogprobs: [
            { token: 'fir', logprob: -0.5 },
            { token: 'x', logprob: -2 },
          ],
        },
      ]);
      assert.equal(r.choices[1].logprobs, undefined);
      assert.deepEqual(r.usage, { promptTokens: 7, completionTokens: 4 });
      assert.equal(client.name, `m1 @ ${url}`);
    },
  );
});

test('completions: prompt body with integer logprobs; legacy logprob arrays mapped, alternatives sorted best first', async () => {
  await withServer(
    (req, _body, res) => {
      assert.equal(req.url, '/v1/completions');
      json(res, 200, {
        choices: [
          {
            index: 0,
            text: ' 4',
            finish_reason: 'stop',
            logprobs: { tokens: [' 4'], token_logprobs: [-0.1], top_logprobs: [{ ' 5': -3, ' 4': -0.1 }] },
          },
        ],
      });
    },
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm', apiKey: '' });
      const r = await client.complete('2+2=', { logprobs: true, topLogprobs: 2, maxTokens: 1 });
      assert.deepEqual(info.bodies[0], { model: 'm', prompt: '2+2=', max_tokens: 1, logprobs: 2 });
      assert.deepEqual(r.choices[0], {
        text: ' 4',
        finishReason: 'stop',
        logprobs: [
          {
            token: ' 4',
            logprob: -0.1,
            topLogprobs: [
              { token: ' 4', logprob: -0.1 },
              { token: ' 5', logprob: -3 },
            ],
          },
        ],
      });
    },
  );
});

test('retries 429 (honouring Retry-After) and 500 (exponential back-off with jitter), then succeeds', async () => {
  await withServer(
    (_req, _body, res, hit) => {
      if (hit === 0) json(res, 429, { error: 'slow down' }, { 'retry-after': '0.25' });
      else if (hit === 1) json(res, 500, { error: 'boom' });
      else json(res, 200, chatOk('ok'));
    },
    async (url, info) => {
      const { sleep, delays } = recordingSleep();
      const client = new OpenAIClient({
        baseUrl: url,
        model: 'm',
        retry: { initialDelayMs: 100, maxDelayMs: 10_000 },
        sleep,
      });
      const r = await client.chat([{ role: 'user', content: 'x' }]);
      assert.equal(r.choices[0].text, 'ok');
      assert.equal(info.hits(), 3);
      assert.equal(client.stats.retries, 2);
      // first wait: the server's Retry-After (0.25 s); second: back-off for retry #1, base 100·2¹ = 200 → [100, 200)
      assert.equal(delays[0], 250);
      assert.ok(delays[1] >= 100 && delays[1] < 200, `back-off ${delays[1]} outside [100, 200)`);
    },
  );
});

test('a non-retriable status fails at once with the URL, status and a hint', async () => {
  await withServer(
    (_req, _body, res) => json(res, 401, { error: { message: 'invalid api key' } }),
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm', sleep: async () => {} });
      await assert.rejects(client.chat([{ role: 'user', content: 'x' }]), (e: unknown) => {
        assert.ok(e instanceof GrpoError);
        assert.match(e.message, /chat\/completions → HTTP 401/);
        assert.match(e.message, /invalid api key/);
        assert.match(e.message, /api_key/);
        return true;
      });
      assert.equal(info.hits(), 1);
    },
  );
});

test('gives up after max_retries on a server that keeps failing, naming the attempts and the last status', async () => {
  await withServer(
    (_req, _body, res) => json(res, 503, { error: 'overloaded' }),
    async (url, info) => {
      const { sleep, delays } = recordingSleep();
      const client = new OpenAIClient({
        baseUrl: url,
        model: 'm',
        retry: { maxRetries: 2, initialDelayMs: 10 },
        sleep,
      });
      await assert.rejects(
        client.chat([{ role: 'user', content: 'x' }]),
        /failed after 3 attempt\(s\); last: HTTP 503/,
      );
      assert.equal(info.hits(), 3);
      assert.equal(delays.length, 2);
    },
  );
});

test('per-request timeout aborts a slow response and retries; a later fast answer succeeds', async () => {
  await withServer(
    async (_req, _body, res, hit) => {
      // the first answer never comes (until the client gives up); the retry is answered at once
      if (hit === 0) await new Promise((r) => res.on('close', r));
      if (!res.destroyed) json(res, 200, chatOk(`answer ${hit}`));
    },
    async (url, info) => {
      // a time-out with room for a loaded machine to answer the retry within it
      const client = new OpenAIClient({
        baseUrl: url,
        model: 'm',
        timeoutMs: 1500,
        retry: { maxRetries: 1, initialDelayMs: 1 },
      });
      const r = await client.chat([{ role: 'user', content: 'x' }]);
      assert.equal(r.choices[0].text, 'answer 1');
      assert.equal(info.hits(), 2);
    },
  );
  await withServer(
    async (_req, _body, res) => {
      await new Promise((r) => setTimeout(r, 300));
      if (!res.destroyed) json(res, 200, chatOk('late'));
    },
    async (url) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm', timeoutMs: 50, retry: { maxRetries: 0 } });
      await assert.rejects(client.chat([{ role: 'user', content: 'x' }]), /no response within 50 ms/);
    },
  );
});

test('network errors are retried and then reported with the URL', async () => {
  // a port that was just closed: connection refused
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  const { sleep, delays } = recordingSleep();
  const client = new OpenAIClient({
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model: 'm',
    retry: { maxRetries: 2 },
    sleep,
  });
  await assert.rejects(client.chat([{ role: 'user', content: 'x' }]), (e: unknown) => {
    assert.ok(e instanceof GrpoError);
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}/v1/chat/completions failed after 3 attempt`));
    assert.match(e.message, /network error/);
    return true;
  });
  assert.equal(delays.length, 2);
  assert.equal(client.stats.requests, 3);
});

test('memory cache: deterministic requests are answered once; sampled ones are not cached unless asked', async () => {
  await withServer(
    (_req, _body, res, hit) => json(res, 200, chatOk(`reply ${hit}`)),
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm' });
      const msgs = [{ role: 'user' as const, content: 'q' }];
      const a = await client.chat(msgs, { temperature: 0 });
      const b = await client.chat(msgs, { temperature: 0 });
      assert.equal(info.hits(), 1);
      assert.equal(b.choices[0].text, a.choices[0].text);
      assert.equal(b.cached, true);
      await client.chat(msgs, { temperature: 0.7 });
      await client.chat(msgs, { temperature: 0.7 });
      assert.equal(info.hits(), 3, 'sampled requests go to the server each time');
      await client.chat(msgs, { temperature: 0.7, seed: 1 });
      await client.chat(msgs, { temperature: 0.7, seed: 1 });
      assert.equal(info.hits(), 4, 'a seeded request is deterministic, so cached');
      const sampledCache = new OpenAIClient({ baseUrl: url, model: 'm', cacheSampled: true });
      await sampledCache.chat(msgs, { temperature: 0.7 });
      await sampledCache.chat(msgs, { temperature: 0.7 });
      assert.equal(info.hits(), 5);
    },
  );
});

test('identical deterministic requests in flight together share one server call', async () => {
  await withServer(
    async (_req, _body, res) => {
      await new Promise((r) => setTimeout(r, 30));
      json(res, 200, chatOk('shared'));
    },
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm' });
      const msgs = [{ role: 'user' as const, content: 'q' }];
      const [a, b] = await Promise.all([client.chat(msgs, { temperature: 0 }), client.chat(msgs, { temperature: 0 })]);
      assert.equal(info.hits(), 1);
      assert.equal(a.choices[0].text, 'shared');
      assert.equal(b.choices[0].text, 'shared');
    },
  );
});

test('disk cache survives a new client, keys ignore the API key and field order, and leaves no temp files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-cache-'));
  await withServer(
    (_req, _body, res, hit) => json(res, 200, chatOk(`reply ${hit}`)),
    async (url, info) => {
      const msgs = [{ role: 'user' as const, content: 'q' }];
      const first = new OpenAIClient({ baseUrl: url, model: 'm', cacheDir: dir, apiKey: 'key-1' });
      const a = await first.chat(msgs, { temperature: 0, maxTokens: 5 });
      const second = new OpenAIClient({ baseUrl: url, model: 'm', cacheDir: dir, apiKey: 'key-2', memoryCache: false });
      const b = await second.chat(msgs, { maxTokens: 5, temperature: 0 });
      assert.equal(info.hits(), 1);
      assert.equal(b.choices[0].text, a.choices[0].text);
      assert.equal(b.cached, true);
      const key = requestCacheKey(`${url}/chat/completions`, {
        model: 'm',
        messages: msgs,
        temperature: 0,
        max_tokens: 5,
      });
      assert.ok(existsSync(join(dir, key.slice(0, 2), `${key}.json`)));
      const files = readdirSync(dir, { recursive: true }).map(String);
      assert.ok(!files.some((f) => f.endsWith('.tmp')), `temp files left: ${files.join(', ')}`);
    },
  );
  assert.equal(
    canonicalJson({ b: 1, a: { d: undefined, c: [1, { z: 1, y: 2 }] } }),
    '{"a":{"c":[1,{"y":2,"z":1}]},"b":1}',
  );
});

test('concurrency limit: never more requests in flight than configured', async () => {
  await withServer(
    async (_req, _body, res) => {
      await new Promise((r) => setTimeout(r, 40));
      json(res, 200, chatOk('x'));
    },
    async (url, info) => {
      const client = new OpenAIClient({ baseUrl: url, model: 'm', concurrency: 2 });
      await Promise.all(Array.from({ length: 6 }, (_, k) => client.chat([{ role: 'user', content: `q${k}` }])));
      assert.equal(info.hits(), 6);
      assert.equal(info.peak(), 2);
    },
  );
});

test('listModels reads /models; a bad base URL is a config error', async () => {
  await withServer(
    (req, _body, res) => {
      assert.equal(req.url, '/v1/models');
      json(res, 200, { object: 'list', data: [{ id: 'tiny' }, { id: 'other' }] });
    },
    async (url) => {
      assert.deepEqual(await new OpenAIClient({ baseUrl: url, model: 'x' }).listModels(), ['tiny', 'other']);
    },
  );
  assert.throws(() => new OpenAIClient({ baseUrl: 'localhost:8000', model: 'm' }), /not an http\(s\) URL/);
});

test('Retry-After parsing and the back-off range', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter('0.5'), 500);
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:02 GMT', now), 2000);
  assert.equal(parseRetryAfter('soon'), null);
  assert.equal(parseRetryAfter(null), null);
  const rng = new Rng(1);
  const policy = { ...defaultRetryPolicy, initialDelayMs: 100, maxDelayMs: 1000 };
  // retry r: base = min(1000, 100·2^r); delay ∈ [base/2, base]
  for (const [r, base] of [
    [0, 100],
    [1, 200],
    [3, 800],
    [4, 1000],
    [9, 1000],
  ] as const) {
    for (let k = 0; k < 50; k++) {
      const d = backoffDelayMs(r, policy, rng);
      assert.ok(d >= base / 2 && d <= base, `retry ${r}: ${d} outside [${base / 2}, ${base}]`);
    }
  }
});
