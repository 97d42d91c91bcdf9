// runServe, what `grpo serve --model PATH` calls: opens a model folder, binds a free port on 127.0.0.1,
// prints the URL and serves until closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { writeHfModel } from '../../src/model/io/index.ts';
import { loadTokenizer } from '../../src/model/tokenizer/index.ts';
import { runServe, startServer } from '../../src/cli/serve.ts';
import { randomWeights, tinyConfig } from '../model/io-fixtures.ts';
import { tinySentencePieceVocab } from '../model/tokenizer-fixtures.ts';
import { get, post, writeLlama2cTokenizer } from './fixtures.ts';

/** A tiny Hugging Face model folder, `<dir>/tiny-llama`. */
function writeTinyModel(dir: string): string {
  const { pieces, scores } = tinySentencePieceVocab();
  writeLlama2cTokenizer(join(dir, 'tok.bin'), pieces, scores);
  const config = tinyConfig({ vocabSize: pieces.length, bosTokenId: 1, eosTokenIds: [2] });
  writeHfModel(
    join(dir, 'tiny-llama'),
    { config, weights: randomWeights(config, 3) },
    { tokenizer: loadTokenizer(join(dir, 'tok.bin')) },
  );
  return join(dir, 'tiny-llama');
}

test('runServe serves a Hugging Face model folder, prints "listening on http://127.0.0.1:PORT", and closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-serve-'));
  try {
    writeTinyModel(dir);
    const printed: string[] = [];
    const sigintListeners = process.listenerCount('SIGINT');
    const running = await runServe({ model: join(dir, 'tiny-llama'), port: 0, threads: 1 }, (l) => printed.push(l));
    try {
      const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(printed[printed.length - 1]);
      assert.ok(m, printed.join('\n'));
      assert.ok(Number(m[2]) > 0);
      assert.equal(m[1], running.url);
      const models = await get(running, '/v1/models');
      assert.deepEqual(
        models.json.data.map((d: { id: string }) => d.id),
        ['tiny-llama'],
        'the folder name is the model id',
      );
      const r = await post(running, '/chat/completions', {
        model: 'tiny-llama',
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 4,
      });
      assert.equal(r.status, 200, r.text);

      // the port is taken: a clear error, not a crash
      const port = Number(m[2]);
      await assert.rejects(
        startServer({ model: join(dir, 'tiny-llama'), port, threads: 1 }),
        (e: unknown) => e instanceof GrpoError && /cannot listen on .*--port/.test(e.message),
      );
    } finally {
      await running.close();
    }
    assert.equal(process.listenerCount('SIGINT'), sigintListeners, 'closing removes the signal handlers');
    await assert.rejects(fetch(`${running.url}/v1/models`), 'closed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runServe takes runtime updates only when told (--allow-runtime-updates or GRPO_ALLOW_RUNTIME_UPDATES=1), and says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-serve-'));
  const env = process.env.GRPO_ALLOW_RUNTIME_UPDATES;
  const update = (url: string) =>
    fetch(`${url}/update_weights_from_disk`, {
      method: 'POST',
      body: JSON.stringify({ model_path: join(dir, 'none') }),
    });
  try {
    const model = writeTinyModel(dir);
    for (const [how, flag, value, status] of [
      ['default', undefined, undefined, 403],
      ['flag', true, undefined, 400],
      ['environment', undefined, '1', 400],
    ] as const) {
      if (value === undefined) delete process.env.GRPO_ALLOW_RUNTIME_UPDATES;
      else process.env.GRPO_ALLOW_RUNTIME_UPDATES = value;
      const printed: string[] = [];
      const running = await runServe({ model, port: 0, threads: 1, allowRuntimeUpdates: flag }, (l) => printed.push(l));
      try {
        assert.equal((await update(running.url)).status, status, how);
        assert.equal(
          printed.some((l) => l.startsWith('runtime updates on')),
          status === 400,
          printed.join('\n'),
        );
      } finally {
        await running.close();
      }
    }
  } finally {
    if (env === undefined) delete process.env.GRPO_ALLOW_RUNTIME_UPDATES;
    else process.env.GRPO_ALLOW_RUNTIME_UPDATES = env;
    rmSync(dir, { recursive: true, force: true });
  }
});
