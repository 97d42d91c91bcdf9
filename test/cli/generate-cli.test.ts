/** `grpo generate` end to end on a tiny model saved as a Hugging Face folder (no shared data needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHfModel } from '../../src/model/io/index.ts';
import { loadTokenizer } from '../../src/model/tokenizer/index.ts';
import { tinyConfig, randomWeights, withTempDir } from '../model/io-fixtures.ts';
import { tinySentencePieceVocab, writeLlama2cTokenizer } from '../model/tokenizer-fixtures.ts';
import { openModel } from '../../src/model/open-model.ts';
import { generate } from '../../src/rollout/generate.ts';
import { EMBEDDED_MODEL_DIR } from '../../src/data/synthetic/embedded-model.ts';
import { GrpoError } from '../../src/errors.ts';
import { runGenerate } from '../../src/cli/generate.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'generate', ...args], {
    encoding: 'utf8',
    cwd: root,
  });

test('grpo generate prints samples and, with --json, tokens and log-probs that match the library', () =>
  withTempDir((dir) => {
    const { pieces, scores } = tinySentencePieceVocab();
    writeLlama2cTokenizer(path.join(dir, 'tok.bin'), pieces, scores);
    const tokenizer = loadTokenizer(path.join(dir, 'tok.bin'));
    const config = tinyConfig({ vocabSize: pieces.length, bosTokenId: 1, eosTokenIds: [2] });
    writeHfModel(path.join(dir, 'model'), { config, weights: randomWeights(config, 3) }, { tokenizer });

    const r = cli([
      '--model',
      path.join(dir, 'model'),
      '--prompt',
      'hello',
      '--max-tokens',
      '6',
      '--n',
      '3',
      '--seed',
      '5',
      '--json',
      '--threads',
      '1',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    const { model } = openModel(path.join(dir, 'model'), { threads: 1, precision: 'auto' }); // the CLI's default
    try {
      const lib = generate(model, [tokenizer.encode('hello')], { n: 3, maxTokens: 6, seed: 5, temperature: 1 });
      lines.forEach((l, i) => {
        assert.deepEqual(l.tokens, lib[i].tokens);
        assert.equal(l.finish_reason, lib[i].finishReason);
        l.logprobs.forEach((x: number, t: number) => assert.ok(Math.abs(x - lib[i].logprobs[t]) < 1e-9));
      });
    } finally {
      model.free();
    }
    const bad = cli(['--model', path.join(dir, 'missing')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^grpo: model path .*missing does not exist\n$/);
  }));

test("a tokenizer with more tokens than the model's embedding rows is refused in one line; a padded embedding is not", () =>
  withTempDir((dir) => {
    const { pieces, scores } = tinySentencePieceVocab();
    writeLlama2cTokenizer(path.join(dir, 'tok.bin'), pieces, scores);
    // the embedded model has 21 rows; this tokenizer has 282 tokens
    const r = cli(['--model', EMBEDDED_MODEL_DIR, '--tokenizer', path.join(dir, 'tok.bin'), '--prompt', 'hello']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stderr,
      /^grpo: the tokenizer .*tok\.bin has 282 tokens but the model .* has 21 embedding rows .*\n$/,
    );
    // the same mismatch saved inside a model folder
    const small = tinyConfig({ vocabSize: 100 });
    writeHfModel(
      path.join(dir, 'small'),
      { config: small, weights: randomWeights(small, 1) },
      {
        tokenizer: path.join(dir, 'tok.bin'),
      },
    );
    assert.throws(
      () => openModel(path.join(dir, 'small'), { threads: 1 }),
      (e: unknown) =>
        e instanceof GrpoError && e.code === 'tokenizer' && /282 tokens .* 100 embedding rows/.test(e.message),
    );
    // more rows than tokens (Qwen pads its embedding) is fine
    const padded = tinyConfig({ vocabSize: pieces.length + 30 });
    writeHfModel(
      path.join(dir, 'padded'),
      { config: padded, weights: randomWeights(padded, 1) },
      {
        tokenizer: path.join(dir, 'tok.bin'),
      },
    );
    openModel(path.join(dir, 'padded'), { threads: 1 }).model.free();
  }));
test('grpo generate --model embedded is the shipped model, as in train and eval', () => {
  const lines: string[] = [];
  runGenerate(
    { model: 'embedded', prompt: '612+720=', maxTokens: 30, temperature: 0, n: 1, seed: 0, threads: 1 },
    (l) => lines.push(l),
  );
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^<think>.*<\/think>/);
});
