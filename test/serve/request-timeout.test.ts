// --request-timeout: a request not received whole in time is answered 408 with an OpenAI-shaped body naming the flag
// and its value (so a client on a slow device knows which limit to raise); malformed HTTP is still a 400; a limit that
// is not a number of seconds is refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { GrpoError } from '../../src/errors.ts';
import { startServer } from '../../src/serve/server.ts';
import { get, tinyModel, withServer } from './fixtures.ts';

/** Writes `raw` on a fresh connection and reads until the server closes it. */
function exchange(url: string, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const sock = connect(Number(new URL(url).port), '127.0.0.1', () => sock.write(raw));
    sock.on('data', (d) => {
      text += String(d);
    });
    sock.on('close', () => resolve(text));
    sock.on('error', reject);
  });
}

test('a body that never arrives is answered 408 naming --request-timeout and its value', () =>
  withServer(
    async (s) => {
      const answer = await exchange(
        s.url,
        'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro',
      );
      assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.code, 'request_timeout');
      assert.match(body.error.message, /within --request-timeout 0\.5 s .*larger --request-timeout/);
      assert.equal((await get(s, '/v1/models')).status, 200, 'the server goes on');
    },
    { requestTimeout: 0.5 },
  ));

test('malformed HTTP is a 400 with a JSON body, and the server goes on', () =>
  withServer(async (s) => {
    const answer = await exchange(s.url, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.message, /^malformed HTTP request/);
    assert.equal((await get(s, '/v1/models')).status, 200);
  }));

test('a --request-timeout that is not seconds ≥ 0 is refused before the model is opened', async () => {
  const opened = tinyModel();
  try {
    for (const bad of [-1, Number.NaN, Infinity])
      await assert.rejects(
        startServer({ model: opened, port: 0, requestTimeout: bad }),
        (e: unknown) => e instanceof GrpoError && /--request-timeout takes seconds ≥ 0 \(0: no limit\)/.test(e.message),
      );
  } finally {
    opened.model.free();
  }
});
