// GET /metrics: Prometheus text with vLLM's metric names, types and model_name label; the counters move by exactly
// the tokens and choices the answers' usage reports, the gauges count the sequences decoding, a client that leaves is
// an 'abort', and the route is open without the API key, as vLLM's is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post, withServer, type TestServer } from './fixtures.ts';

type Scrape = { values: Map<string, number>; types: Map<string, string>; contentType: string };

/** The exposition parsed: `name{labels}` (as written) → value, and each family's # TYPE. */
async function scrape(s: TestServer, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${s.url}/metrics`, { headers });
  assert.equal(res.status, 200);
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    values.set(sample[1], Number(sample[2]));
  }
  return { values, types, contentType: res.headers.get('content-type') ?? '' };
}

const M = '{model_name="tiny"}';
const success = (reason: string) => `vllm:request_success_total{model_name="tiny",finished_reason="${reason}"}`;

function delta(before: Scrape, after: Scrape, key: string): number {
  assert.ok(after.values.has(key), `${key} is reported`);
  return after.values.get(key)! - (before.values.get(key) ?? 0);
}

test("the counters move by exactly the answers' usage, in vLLM's names and types", () =>
  withServer(async (s) => {
    const before = await scrape(s);
    assert.match(before.contentType, /^text\/plain; version=0\.0\.4/);
    assert.deepEqual(
      ['num_requests_running', 'num_requests_waiting'].map((n) => before.types.get(`vllm:${n}`)),
      ['gauge', 'gauge'],
    );
    for (const n of ['prompt_tokens_total', 'generation_tokens_total', 'request_success_total'])
      assert.equal(before.types.get(`vllm:${n}`), 'counter', n);
    for (const n of ['time_to_first_token_seconds', 'e2e_request_latency_seconds'])
      assert.equal(before.types.get(`vllm:${n}`), 'histogram', n);
    assert.equal(before.values.get(success('stop')), 0, 'every finished_reason is reported from the start');

    const answers = [
      await post(s, '/completions', { prompt: ['hello', 'a dog sat'], n: 2, max_tokens: 5, ignore_eos: true }),
      await post(s, '/completions', { prompt: [1, 20, 21], max_tokens: 40, temperature: 0 }),
      await post(s, '/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 7, seed: 3 }),
    ];
    for (const a of answers) assert.equal(a.status, 200, a.text);
    const after = await scrape(s);
    const sum = (f: (a: (typeof answers)[number]) => number) => answers.reduce((t, a) => t + f(a), 0);
    const choices = answers.flatMap((a) => a.json.choices as { finish_reason: string }[]);
    assert.equal(
      delta(before, after, `vllm:prompt_tokens_total${M}`),
      sum((a) => a.json.usage.prompt_tokens),
    );
    assert.equal(
      delta(before, after, `vllm:generation_tokens_total${M}`),
      sum((a) => a.json.usage.completion_tokens),
    );
    for (const reason of ['stop', 'length'])
      assert.equal(
        delta(before, after, success(reason)),
        choices.filter((c) => c.finish_reason === reason).length,
        reason,
      );
    assert.equal(choices.length, 6);
    for (const h of ['time_to_first_token_seconds', 'e2e_request_latency_seconds']) {
      assert.equal(delta(before, after, `vllm:${h}_count${M}`), 6, `${h}: one observation per sequence`);
      assert.equal(
        after.values.get(`vllm:${h}_bucket{model_name="tiny",le="+Inf"}`),
        after.values.get(`vllm:${h}_count${M}`),
      );
      assert.ok(after.values.get(`vllm:${h}_sum${M}`)! > 0);
    }
    assert.equal(after.values.get(`vllm:num_requests_running${M}`), 0);
    assert.equal(after.values.get(`vllm:num_requests_waiting${M}`), 0);
  }));

test('during a generation the running gauge counts its sequences; a client that leaves is counted as abort', () =>
  withServer(async (s) => {
    const gone = new AbortController();
    const res = await fetch(`${s.baseUrl}/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'hello', n: 3, max_tokens: 50, ignore_eos: true, stream: true }),
      signal: gone.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk: the request is in the running batch
    const during = await scrape(s);
    assert.equal(during.values.get(`vllm:num_requests_running${M}`), 3);
    gone.abort();
    await reader.cancel().catch(() => {});
    let aborts = 0;
    for (let i = 0; i < 400 && aborts < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      aborts = (await scrape(s)).values.get(success('abort')) ?? 0;
    }
    assert.equal(aborts, 3, 'each of its sequences ends as abort');
    const end = await scrape(s);
    assert.equal(end.values.get(`vllm:num_requests_running${M}`), 0);
    assert.equal(end.values.get(success('length')), 0, 'the aborted sequences are not successes of another kind');
  }));

test('with --api-key, /metrics (like /health) answers without the key, as vLLM serves it', () =>
  withServer(
    async (s) => {
      assert.equal((await get(s, '/v1/models')).status, 401);
      const open = await scrape(s);
      assert.ok(open.values.has(`vllm:prompt_tokens_total${M}`));
    },
    { apiKey: 'sk-secret' },
  ));
