// Bad input never crashes the server: malformed JSON and bad fields are 400s naming the field, and the
// server keeps answering; concurrent requests are queued and all answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { readJsonBody } from '../../src/serve/http-io.ts';
import { ServeError } from '../../src/serve/serve-error.ts';
import { post, withServer } from './fixtures.ts';

const user = [{ role: 'user', content: 'hello' }];

const badChat: [string, unknown, string | null][] = [
  ['not an object', [1, 2], null],
  ['no messages', {}, 'messages'],
  ['empty messages', { messages: [] }, 'messages'],
  ['message content', { messages: [{ role: 'user', content: 3 }] }, 'messages[0].content'],
  ['message role', { messages: [{ content: 'x' }] }, 'messages[0].role'],
  [
    'image part',
    { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] },
    'messages[0].content',
  ],
  ['temperature type', { messages: user, temperature: 'hot' }, 'temperature'],
  ['negative temperature', { messages: user, temperature: -1 }, 'temperature'],
  ['top_p range', { messages: user, top_p: 0 }, 'top_p'],
  ['top_k type', { messages: user, top_k: 1.5 }, 'top_k'],
  ['min_p range', { messages: user, min_p: 2 }, 'min_p'],
  ['n zero', { messages: user, n: 0 }, 'n'],
  ['n too large', { messages: user, n: 1000 }, 'n'],
  ['max_tokens zero', { messages: user, max_tokens: 0 }, 'max_tokens'],
  ['seed type', { messages: user, seed: 'x' }, 'seed'],
  ['stop type', { messages: user, stop: 5 }, 'stop'],
  ['empty stop', { messages: user, stop: [''] }, 'stop[0]'],
  ['logprobs type', { messages: user, logprobs: 2 }, 'logprobs'],
  ['top_logprobs without logprobs', { messages: user, top_logprobs: 2 }, 'top_logprobs'],
  ['top_logprobs range', { messages: user, logprobs: true, top_logprobs: 50 }, 'top_logprobs'],
  ['stream type', { messages: user, stream: 'yes' }, 'stream'],
  ['penalty', { messages: user, presence_penalty: 0.5 }, 'presence_penalty'],
  ['tools', { messages: user, tools: [{ type: 'function' }] }, 'tools'],
  ['unknown model', { messages: user, model: 'gpt-9' }, 'model'],
];

const badCompletion: [string, unknown, string | null][] = [
  ['no prompt', {}, 'prompt'],
  ['prompt type', { prompt: 3 }, 'prompt'],
  ['mixed prompt array', { prompt: ['a', 1] }, 'prompt'],
  ['token id outside the vocabulary', { prompt: [1, 99999] }, 'prompt'],
  [
    'second prompt id outside the vocabulary',
    {
      prompt: [
        [1, 2],
        [1, 99999],
      ],
    },
    'prompt[1]',
  ],
  ['negative token id', { prompt: [1, -4] }, 'prompt[1]'],
  ['logprobs boolean', { prompt: 'a', logprobs: true }, 'logprobs'],
  ['echo', { prompt: 'a', echo: true }, 'echo'],
  ['best_of', { prompt: 'a', best_of: 3 }, 'best_of'],
  ['too many sequences', { prompt: ['a', 'b', 'c'], n: 100 }, 'n'],
];

test('bad chat and completion requests are 400s whose error names the field; the server keeps serving', () =>
  withServer(async (s) => {
    for (const [path, cases] of [
      ['/chat/completions', badChat],
      ['/completions', badCompletion],
    ] as const) {
      for (const [what, body, param] of cases) {
        const r = await post(s, path, body);
        const expected = param === 'model' ? 404 : 400;
        assert.equal(r.status, expected, `${path} ${what}: ${r.text}`);
        assert.equal(r.json.error.param, param, `${path} ${what}: ${r.text}`);
        if (param)
          assert.ok(
            r.json.error.message.includes(`'${param}'`),
            `${what}: the message names '${param}': ${r.json.error.message}`,
          );
        assert.equal(r.json.error.type, 'invalid_request_error');
      }
    }
    for (const raw of ['{bad json', '', 'null', '"text"']) {
      const r = await post(s, '/completions', raw);
      assert.equal(r.status, 400, raw);
      assert.match(r.json.error.message, /JSON|body/);
    }
    const fine = await post(s, '/completions', {
      prompt: 'hello',
      max_tokens: 3,
      frequency_penalty: 0,
      user: 'someone',
      logit_bias: {},
    });
    assert.equal(fine.status, 200, 'neutral values of unsupported options and unknown fields are accepted');
  }));

test('garbage on the socket and a client that hangs up mid-queue do not bring the server down', () =>
  withServer(async (s) => {
    const port = new URL(s.url).port;
    await new Promise<void>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1', () => sock.end('NOT HTTP AT ALL\r\n\r\n'));
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
      sock.resume();
    });
    // a request whose client gives up before it is answered
    const controller = new AbortController();
    const abandoned = fetch(`${s.baseUrl}/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'abc', max_tokens: 20 }),
      signal: controller.signal,
    }).catch(() => 'aborted');
    controller.abort();
    assert.equal(await abandoned, 'aborted');
    const r = await post(s, '/completions', { prompt: 'hello', max_tokens: 3 });
    assert.equal(r.status, 200);
  }));

test('concurrent requests are batched and each gets, bit for bit, the answer it would get alone (f32)', () =>
  withServer(async (s) => {
    const requests = Array.from({ length: 8 }, (_, i) =>
      i % 2 === 0
        ? {
            path: '/chat/completions',
            body: {
              messages: [{ role: 'user', content: `hello ${i}` }],
              max_tokens: 6,
              seed: i,
              n: 2,
              stream: i % 4 === 0,
            },
          }
        : { path: '/completions', body: { prompt: `abc ${i}`, max_tokens: 6, seed: i, logprobs: 1 } },
    );
    const together = await Promise.all(requests.map((r) => post(s, r.path, r.body)));
    assert.ok(together.every((r) => r.status === 200));
    for (const [i, r] of requests.entries()) {
      const alone = await post(s, r.path, r.body);
      // batched with others, a request samples the same tokens with the same log-probs (batch-invariance.ts)
      const strip = (t: string) => t.replace(/"id":"[^"]+"|"created":\d+/g, '');
      assert.equal(strip(together[i].text), strip(alone.text), `request ${i}`);
    }
  }));

test('bodies over the size cap are refused with 413', async () => {
  const req = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]) as unknown as IncomingMessage;
  await assert.rejects(
    readJsonBody(req, 1000),
    (e: unknown) => e instanceof ServeError && e.code === 'payload_too_large',
  );
  assert.deepEqual(
    await readJsonBody(Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]) as unknown as IncomingMessage),
    { a: 1 },
  );
});

test('with an API key every route but /health and /metrics answers 401 without "Authorization: Bearer <key>" (vLLM --api-key)', async () => {
  await withServer(
    async (s) => {
      const ask = (path: string, auth?: string, body?: unknown) =>
        fetch(`${s.url}${path}`, {
          method: body ? 'POST' : 'GET',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
      for (const auth of [undefined, 'Bearer wrong', 'sk-secret', 'Bearer sk-secre']) {
        const r = await ask('/v1/models', auth);
        assert.equal(r.status, 401, String(auth));
        const body = (await r.json()) as { error: { code: string; type: string; message: string } };
        assert.equal(body.error.code, 'unauthorized');
        assert.match(body.error.message, /Authorization: Bearer/);
      }
      assert.equal((await ask('/v1/chat/completions', undefined, { messages: user, max_tokens: 2 })).status, 401);
      assert.equal(
        (await ask('/update_weights_from_disk', undefined, { model_path: '/nowhere' })).status,
        401,
        'weight updates need the key too',
      );
      assert.equal((await ask('/health')).status, 200, '/health stays open for probes');
      assert.equal((await ask('/v1/models', 'Bearer sk-secret')).status, 200);
      assert.equal(
        (await ask('/v1/chat/completions', 'Bearer sk-secret', { messages: user, max_tokens: 2 })).status,
        200,
      );
    },
    { apiKey: 'sk-secret' },
  );
});

test('requests sent during a long generation join it at the next step, whatever their settings, and finish before it', async () => {
  const { SequenceDecoder } = await import('../../src/rollout/sequence-decoder.ts');
  const original = SequenceDecoder.prototype.step;
  const batch: number[] = [];
  SequenceDecoder.prototype.step = function () {
    batch.push(this.sequences);
    return original.call(this);
  };
  try {
    await withServer(async (s) => {
      const finished: string[] = [];
      const track = (name: string, p: Promise<Response>) =>
        p.then(async (r) => {
          const text = await r.text();
          finished.push(name);
          return { status: r.status, text };
        });
      const send = (body: object) =>
        fetch(`${s.baseUrl}/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      // a long streamed request: once its first chunk arrives it is decoding
      const long = await send({
        prompt: 'warm',
        max_tokens: 50,
        ignore_eos: true,
        temperature: 1,
        seed: 1,
        stream: true,
      });
      const reader = long.body!.getReader();
      await reader.read();
      const longDone = (async () => {
        while (!(await reader.read()).done);
        finished.push('long');
      })();
      const others = [
        ...Array.from({ length: 4 }, (_, i) =>
          track(`same ${i}`, send({ prompt: `abc ${i}`, max_tokens: 5, temperature: 1, seed: 100 + i })),
        ),
        track('greedy', send({ prompt: 'xyz', max_tokens: 3, temperature: 0 })),
        track('n=2', send({ prompt: 'two', max_tokens: 4, temperature: 0.5, top_k: 3, n: 2, seed: 7 })),
      ];
      const answers = await Promise.all(others);
      await longDone;
      assert.ok(
        answers.every((a) => a.status === 200),
        JSON.stringify(answers),
      );
      assert.equal(finished[finished.length - 1], 'long', `finish order ${finished.join(', ')}`);
      assert.ok(
        Math.max(...batch) >= 1 + 4 + 1 + 2 - 1,
        `the requests decoded beside the long one (batch sizes ${batch.join(' ')})`,
      );
      // each request that joined samples as it would alone (its own seed)
      const alone = await post(s, '/completions', { prompt: 'abc 3', max_tokens: 5, temperature: 1, seed: 103 });
      assert.equal(alone.json.choices[0].text, JSON.parse(answers[3].text).choices[0].text);
    });
  } finally {
    SequenceDecoder.prototype.step = original;
  }
});
