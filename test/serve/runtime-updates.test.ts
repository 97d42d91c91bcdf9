// Loading weights or adapters from a path a client names is off unless the server is started to take runtime
// updates (--allow-runtime-updates, GRPO_ALLOW_RUNTIME_UPDATES=1, as vLLM's VLLM_ALLOW_RUNTIME_LORA_UPDATING): off,
// each route is a 403 saying how to turn it on and nothing is read; on, with --api-key, each still needs the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeUpdatesFromEnv } from '../../src/serve/runtime-updates.ts';
import { post, withServer, type TestServer } from './fixtures.ts';

const ROUTES = [
  { path: '/update_weights_from_disk', body: { model_path: '/etc' } },
  { path: '/v1/load_lora_adapter', body: { lora_name: 'x', lora_path: '/etc' } },
  { path: '/v1/unload_lora_adapter', body: { lora_name: 'x' } },
];

function ask(s: TestServer, path: string, body: unknown, key?: string) {
  return fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
}

test('by default the weight and adapter routes are 403s naming --allow-runtime-updates, and the model is unchanged', () =>
  withServer(async (s) => {
    const greedy = { prompt: 'hello', max_tokens: 6, temperature: 0 };
    const before = await post(s, '/completions', greedy);
    for (const { path, body } of ROUTES) {
      const r = await ask(s, path, body);
      assert.equal(r.status, 403, path);
      const answer = (await r.json()) as {
        error?: { code: string; message: string };
        success?: boolean;
        message?: string;
      };
      // OpenAI's error shape, or SGLang's {success: false, message} on its weight-update route
      const message = answer.error?.message ?? answer.message ?? '';
      if (path === '/update_weights_from_disk') assert.equal(answer.success, false);
      else assert.equal(answer.error?.code, 'forbidden');
      assert.match(
        message,
        new RegExp(`POST ${path} is off: .*--allow-runtime-updates \\(or GRPO_ALLOW_RUNTIME_UPDATES=1\\)`),
      );
    }
    assert.ok(
      s.logs.every((l) => !l.includes('/etc')),
      'nothing was read',
    );
    assert.equal((await post(s, '/completions', greedy)).json.choices[0].text, before.json.choices[0].text);
  }));

test('with runtime updates on and an API key, the routes need the key; with it they answer as usual', () =>
  withServer(
    async (s) => {
      for (const { path, body } of ROUTES) {
        assert.equal((await ask(s, path, body)).status, 401, `${path} without the key`);
        assert.equal((await ask(s, path, body, 'wrong')).status, 401, `${path} with a wrong key`);
        const r = await ask(s, path, body, 'sk-secret');
        assert.ok([400, 404].includes(r.status), `${path} with the key reaches the route: ${r.status}`);
      }
    },
    { apiKey: 'sk-secret', allowRuntimeUpdates: true },
  ));

test('GRPO_ALLOW_RUNTIME_UPDATES turns runtime updates on with 1 or true, as vLLM reads its flag', () => {
  const on = (v: string | undefined) => runtimeUpdatesFromEnv({ GRPO_ALLOW_RUNTIME_UPDATES: v });
  assert.deepEqual(['1', 'true', 'True', ' TRUE '].map(on), [true, true, true, true]);
  assert.deepEqual([undefined, '', '0', 'false', 'no', 'yes'].map(on), [false, false, false, false, false, false]);
});
