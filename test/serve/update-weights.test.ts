// POST /update_weights_from_disk (SGLang's weight-sync API): a reload puts a checkpoint's weights in place, so the
// server then answers exactly as a model loaded from that checkpoint; a checkpoint that does not fit is refused
// with 400 and changes nothing; the reload waits its turn in the request queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import type { LlamaConfig } from '../../src/model/config.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';
import { loadModelWeights, writeHfModel } from '../../src/model/io/index.ts';
import { LlamaModel } from '../../src/model/llama-model.ts';
import type { Tokenizer } from '../../src/model/tokenizer/index.ts';
import { generate } from '../../src/rollout/generate.ts';
import { completionText } from '../../src/serve/completion-text.ts';
import { ServedModel } from '../../src/serve/served-model.ts';
import { tokenString } from '../../src/serve/served-choices.ts';
import type { RunningServer } from '../../src/serve/server.ts';
import { assertSameWeights, randomWeights, tinyConfig } from '../model/io-fixtures.ts';
import { get, post, tinyModel, withServer, type HttpAnswer, type TestServer } from './fixtures.ts';

const ROUTE = '/update_weights_from_disk';

/** A test server that takes runtime updates (grpo serve --allow-runtime-updates). */
const withUpdatingServer = <T>(fn: (s: TestServer) => Promise<T>) => withServer(fn, { allowRuntimeUpdates: true });

/** POST to a path at the server's root (SGLang's admin routes are not under /v1). */
async function postRoot(s: RunningServer, path: string, body: unknown): Promise<HttpAnswer> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

/** Runs `fn` with a fresh temporary folder, removed once its promise settles. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-serve-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A second tiny model: the served model's config, other random weights. */
function writeModel(dir: string, config: LlamaConfig, seed: number): string {
  writeHfModel(dir, { config, weights: randomWeights(config, seed) });
  return dir;
}

/** The prompts and sampling options the answers are compared on: greedy, and seeded sampling with n = 2. */
const PROMPT_TEXT = 'hello abc';
const asks = [
  { max_tokens: 10, temperature: 0, seed: 5 },
  { max_tokens: 10, temperature: 0.9, n: 2, seed: 11 },
];

interface Answer {
  text: string;
  tokens: string[];
  logprobs: number[];
}

/** The server's completions (text, token strings, log-probs) for every entry of `asks`. */
async function served(s: RunningServer & { opened: { tokenizer: Tokenizer } }): Promise<Answer[][]> {
  const prompt = s.opened.tokenizer.encode(PROMPT_TEXT);
  const out: Answer[][] = [];
  for (const a of asks) {
    const r = await post(s, '/completions', { prompt, logprobs: 0, ...a });
    assert.equal(r.status, 200, r.text);
    out.push(answersOf(r.json));
  }
  return out;
}

/** log-probs to 4 decimals: requests batched together differ from one decoded alone in float rounding only */
const rounded = (xs: number[]) => xs.map((x) => Math.round(x * 1e4) / 1e4);

function answersOf(body: any): Answer[] {
  return body.choices.map((c: { text: string; logprobs: { tokens: string[]; token_logprobs: number[] } }) => ({
    text: c.text,
    tokens: c.logprobs.tokens,
    logprobs: rounded(c.logprobs.token_logprobs),
  }));
}

/** What the embedded generate() gives for the same prompts, options and seeds, on `model`. */
function direct(model: LlamaModel, tokenizer: Tokenizer): Answer[][] {
  const prompt = tokenizer.encode(PROMPT_TEXT);
  const prevId = prompt[prompt.length - 1];
  return asks.map((a) =>
    generate(model, [prompt], { maxTokens: a.max_tokens, temperature: a.temperature, n: a.n ?? 1, seed: a.seed }).map(
      (c) => ({
        text: completionText(tokenizer, prevId, c.tokens, []).text,
        tokens: c.tokens.map((id, i) =>
          tokenString(Array.from(tokenizer.tokenBytes(id, i === 0 ? prevId : c.tokens[i - 1]))),
        ),
        logprobs: rounded(c.logprobs),
      }),
    ),
  );
}

/** A model loaded straight from a folder, as the trainer's reference. */
function withModelFrom<T>(dir: string, fn: (m: LlamaModel) => T): T {
  const { config, weights } = loadModelWeights(dir);
  const m = new LlamaModel(config, { weights, threads: 1 });
  try {
    return fn(m);
  } finally {
    m.free();
  }
}

test('a reload makes completions and log-probs those of a model loaded from the new folder; a second reload goes back', () =>
  withUpdatingServer((s) =>
    withTempDir(async (tmp) => {
      const { model, tokenizer } = s.opened;
      const before = await served(s);
      assert.deepEqual(before, direct(model, tokenizer), "the served answers are generate()'s");
      const models = (await get(s, '/v1/models')).json;

      const next = writeModel(join(tmp, 'step-1'), model.config, 8);
      const expected = withModelFrom(next, (m) => direct(m, tokenizer));
      assert.notDeepEqual(expected[0][0].logprobs, before[0][0].logprobs, 'the new weights answer differently');

      const r = await postRoot(s, ROUTE, { model_path: next });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.success, true);
      assert.equal(typeof r.json.message, 'string');
      assert.equal(r.json.num_paused_requests, 0);
      assert.deepEqual(
        s.logs.filter((l) => l.includes(next)).length,
        1,
        `one log line per reload: ${s.logs.join('\n')}`,
      );
      assert.match(s.logs.at(-1)!, /updated weights from .*step-1 \(\d+ tensors/);

      assert.deepEqual(await served(s), expected);
      assert.deepEqual((await get(s, '/v1/models')).json, models, 'the model list is unchanged');

      // load_format as SGLang sends it, and the first weights back: the answers are the first ones again
      const first = join(tmp, 'step-0');
      writeHfModel(first, { config: model.config, weights: randomWeights(model.config, 7) });
      const back = await postRoot(s, ROUTE, {
        model_path: first,
        load_format: 'auto',
        flush_cache: true,
        weight_version: '0',
      });
      assert.equal(back.status, 200, back.text);
      assert.deepEqual(await served(s), before);
    }),
  ));

test('a checkpoint that does not fit is a 400 naming the mismatch, and the served weights stay as they were', () =>
  withUpdatingServer((s) =>
    withTempDir(async (tmp) => {
      const config = s.opened.model.config;
      const before = await served(s);
      const cases: [string, unknown, RegExp, string][] = [
        [
          'other dims',
          { model_path: writeModel(join(tmp, 'wide'), { ...config, dim: 32, headDim: 8 }, 8) },
          /dim is 32, the served model's is 16/,
          'wide',
        ],
        [
          'other rope theta',
          { model_path: writeModel(join(tmp, 'theta'), { ...config, ropeTheta: 500000 }, 8) },
          /ropeTheta is 500000/,
          'theta',
        ],
        ['no such folder', { model_path: join(tmp, 'nothing') }, /'model_path'.*does not exist/, 'nothing'],
        ['not a model folder', { model_path: tmp }, /'model_path'.*config\.json is missing/, tmp],
        [
          'unsupported load_format',
          { model_path: join(tmp, 'wide'), load_format: 'pt' },
          /'load_format'.*'pt' is not supported/,
          '',
        ],
        [
          'load_format of another kind',
          { model_path: join(tmp, 'theta'), load_format: 'gguf' },
          /'load_format'.*Hugging Face folder/,
          'theta',
        ],
      ];
      for (const [what, body, message, logged] of cases) {
        const logs = s.logs.length;
        const r = await postRoot(s, ROUTE, body);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.json.success, false, what);
        assert.match(r.json.message, message, what);
        assert.match(r.json.message, /the served weights are unchanged|'model_path'|'load_format'/, what);
        if (logged)
          assert.ok(
            s.logs.length === logs + 1 && s.logs[logs].includes(logged),
            `${what}: one log line: ${s.logs.slice(logs).join('\n')}`,
          );
        assert.deepEqual(await served(s), before, `${what}: the old weights answer as before`);
      }
    }),
  ));

test("a missing or invalid model_path or body is a 400 naming the field, in SGLang's shape", () =>
  withUpdatingServer(async (s) => {
    const cases: [unknown, RegExp][] = [
      [{}, /'model_path': is required/],
      [{ load_format: 'auto' }, /'model_path': is required/],
      [{ model_path: 5 }, /'model_path'/],
      [{ model_path: '  ' }, /'model_path': must be a non-empty path/],
      [{ model_path: '/x', load_format: 3 }, /'load_format'/],
      ['{not json', /not valid JSON/],
      ['[]', /JSON object/],
    ];
    for (const [body, message] of cases) {
      const r = await postRoot(s, ROUTE, body);
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ['message', 'num_paused_requests', 'success']);
      assert.equal(r.json.success, false);
      assert.match(r.json.message, message);
    }
    assert.equal(s.logs.length, 0, 'requests that name no checkpoint log nothing');
    // only SGLang's path, and only POST
    assert.equal(
      (await post(s, ROUTE, { model_path: '/x' })).status,
      404,
      '/v1/update_weights_from_disk is not a route',
    );
    assert.equal((await get(s, ROUTE)).status, 405);
  }));

/** Sends `requests` (raw HTTP/1.1) pipelined on one connection, in one write; answers in order. */
async function pipelined(
  s: RunningServer,
  requests: { path: string; body: unknown }[],
): Promise<{ status: number; json: any }[]> {
  const { hostname, port } = new URL(s.url);
  const raw = requests.map((r, i) => {
    const payload = JSON.stringify(r.body);
    const close = i === requests.length - 1 ? 'connection: close\r\n' : '';
    return `POST ${r.path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n${close}\r\n${payload}`;
  });
  const data = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(Number(port), hostname, () => sock.write(raw.join('')));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
  });
  const answers: { status: number; json: any }[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    assert.ok(headEnd > 0, 'a whole response head');
    const head = data.subarray(at, headEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    assert.ok(Number.isInteger(length), `a content-length: ${head}`);
    const body = data.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    answers.push({ status: Number(head.split(' ')[1]), json: JSON.parse(body) });
    at = headEnd + 4 + length;
  }
  return answers;
}

test('a reload queued between requests runs in order: those before it see the old weights, those after the new', () =>
  withUpdatingServer((s) =>
    withTempDir(async (tmp) => {
      const { model, tokenizer } = s.opened;
      const next = writeModel(join(tmp, 'step-1'), model.config, 9);
      const old = direct(model, tokenizer);
      const expected = withModelFrom(next, (m) => direct(m, tokenizer));
      assert.notDeepEqual(expected[1], old[1]);
      const prompt = tokenizer.encode(PROMPT_TEXT);
      const completion = { path: '/v1/completions', body: { prompt, logprobs: 0, ...asks[1] } };
      // one write: the server has all three before it runs any, so the completion before the reload is still queued
      // (waiting for its turn) when the reload arrives
      const [a, reload, b, c] = await pipelined(s, [
        completion,
        { path: ROUTE, body: { model_path: next } },
        completion,
        completion,
      ]);
      assert.equal(a.status, 200);
      assert.deepEqual(answersOf(a.json), old[1], 'the request queued before the reload ran on the old weights');
      assert.deepEqual([reload.status, reload.json.success], [200, true]);
      assert.deepEqual(answersOf(b.json), expected[1], 'the request queued after the reload ran on the new weights');
      assert.deepEqual(answersOf(c.json), expected[1]);
    }),
  ));

test('ServedModel.updateWeights checks every tensor before writing any: a bad last tensor leaves all weights as they were', () => {
  const { model, tokenizer } = tinyModel();
  try {
    const served = new ServedModel(model, tokenizer, 'tiny');
    const saved = model.weights.save();
    const c = model.config;
    const bad: WeightMap = randomWeights(c, 3);
    // lm_head comes last: LlamaWeights.load() alone would have written every other tensor before refusing it
    bad.set('lm_head.weight', { shape: [c.dim, c.vocabSize], data: new Float32Array(c.dim * c.vocabSize) });
    assert.throws(
      () => served.updateWeights({ config: c, weights: bad }, 'bad'),
      (e: unknown) =>
        e instanceof GrpoError &&
        e.code === 'weights_mismatch' &&
        /lm_head\.weight' is \[16, \d+\], the served model's is \[\d+, 16\]/.test(e.message),
    );
    const extra: WeightMap = new Map([
      ...randomWeights(c, 3),
      ['model.layers.9.mlp.up_proj.weight', { shape: [1], data: new Float32Array(1) }],
    ]);
    assert.throws(
      () => served.updateWeights({ config: c, weights: extra }, 'extra'),
      /'model\.layers\.9\.mlp\.up_proj\.weight' is not in the served model/,
    );
    const missing = randomWeights(c, 3);
    missing.delete('model.norm.weight');
    assert.throws(
      () => served.updateWeights({ config: c, weights: missing }, 'missing'),
      /'model\.norm\.weight' is missing/,
    );
    assert.throws(
      () => served.updateWeights({ config: tinyConfig({ ...c, qkvBias: true }), weights: randomWeights(c, 3) }, 'bias'),
      /qkvBias is true, the served model's is false/,
    );
    assert.deepEqual(assertSameWeights(model.weights.save(), saved), [], 'nothing was written');

    const good = randomWeights(c, 3);
    assert.deepEqual(served.updateWeights({ config: c, weights: good }, 'good'), {
      tensors: good.size,
      bytes: [...good.values()].reduce((n, t) => n + t.data.length * 4, 0),
    });
    assert.deepEqual(assertSameWeights(model.weights.save(), good), []);
  } finally {
    model.free();
  }
});
