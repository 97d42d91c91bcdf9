// One request cannot stall the server (issue 27): counts and sizes are checked before anything is tokenised, a body
// declared past the cap is refused before it is read, and a request's prompts are tokenised one per event-loop turn,
// so other requests are answered meanwhile. The tokenizer is watched (not replaced) to see what was tokenised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { MAX_BODY_BYTES } from '../../src/serve/http-io.ts';
import { MAX_SEQUENCES_PER_REQUEST } from '../../src/serve/request-prompts.ts';
import { CONTEXT, get, post, withServer, type TestServer } from './fixtures.ts';

/** Counts the server's tokenizer calls; `onFirst` runs inside the first one. */
function watchEncode(s: TestServer, onFirst: () => void = () => {}): { calls: () => number } {
  const tokenizer = s.opened.tokenizer;
  const encode = tokenizer.encode.bind(tokenizer);
  let calls = 0;
  tokenizer.encode = (...args: Parameters<typeof encode>) => {
    if (calls++ === 0) onFirst();
    return encode(...args);
  };
  return { calls: () => calls };
}

test('a 30 MB request of 480 long prompts is refused for its count before any prompt is tokenised', () =>
  withServer(async (s) => {
    const watched = watchEncode(s);
    const prompts = new Array(480).fill('hello abc '.repeat(6250)); // 62.5 K characters each
    const r = await post(s, '/completions', { prompt: prompts, max_tokens: 4 });
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.equal(r.json.error.param, 'n');
    assert.match(r.json.error.message, new RegExp(`480 completions; at most ${MAX_SEQUENCES_PER_REQUEST}`));
    assert.equal(watched.calls(), 0, 'nothing was tokenised');
  }));

test('a prompt with more characters than the context can hold is refused untokenised, naming it', () =>
  withServer(async (s) => {
    const watched = watchEncode(s);
    const huge = 'hello abc '.repeat(300_000); // 3 MB
    const r = await post(s, '/completions', { prompt: ['hello', huge], max_tokens: 4 });
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.equal(r.json.error.param, 'prompt[1]');
    assert.match(
      r.json.error.message,
      /maximum context length is 64 tokens\. However, prompt\[1\] has 3000000 characters/,
    );
    assert.equal(watched.calls(), 1, 'only the first, short prompt was tokenised');
    const chat = await post(s, '/chat/completions', { messages: [{ role: 'user', content: huge }] });
    assert.equal(chat.status, 400);
    assert.equal(chat.json.error.param, 'messages');
    assert.equal(watched.calls(), 1);
  }));

test('a body declared past the size cap is answered 413 before it is sent', () =>
  withServer(async (s) => {
    const { port } = new URL(s.url);
    const head = await new Promise<string>((resolve, reject) => {
      let text = '';
      const sock = connect(Number(port), '127.0.0.1', () =>
        sock.write(
          `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`,
        ),
      );
      sock.on('data', (d) => {
        text += String(d);
        if (text.includes('\r\n\r\n')) {
          sock.destroy();
          resolve(text);
        }
      });
      sock.on('error', reject);
      // the old server waited for a body that never comes
      setTimeout(() => reject(new Error('no answer before the body was sent')), 20_000).unref();
    });
    assert.match(head, /^HTTP\/1\.1 413 /);
    assert.equal((await get(s, '/v1/models')).status, 200);
  }));

test('while a long request is tokenised, GET /v1/models is answered before it', () =>
  withServer(async (s) => {
    const order: string[] = [];
    let models: Promise<void> | null = null;
    // sent from inside the first tokenizer call: the server is busy with the long request from then on
    watchEncode(s, () => {
      models = get(s, '/v1/models').then((r) => {
        assert.equal(r.status, 200);
        order.push('models');
      });
    });
    // 200 prompts of 1 500 characters: each fits the character bound, none fits the 64-token context
    const prompts = Array.from({ length: 200 }, (_, i) => `${i} ${'hello abc '.repeat(150)}`);
    const long = await post(s, '/completions', { prompt: prompts, max_tokens: 4 });
    order.push('long');
    await models;
    assert.equal(long.status, 400, long.text.slice(0, 300));
    assert.match(long.json.error.message, new RegExp(`maximum context length is ${CONTEXT} tokens`));
    assert.deepEqual(order, ['models', 'long']);
  }));
