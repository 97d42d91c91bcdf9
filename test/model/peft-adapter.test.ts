/**
 * Adapters in PEFT format: adapter_config.json + adapter_model.safetensors with PEFT's names and shapes round-trip
 * exactly and load on a base without merging; `grpo merge` writes W + s·B·A exactly (f32) into a folder whose
 * forward equals the adapted model's; adapters PEFT would apply differently (DoRA, biases, patterns) are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { openModel } from '../../src/model/open-model.ts';
import { writeHfModel, readSafetensorsHeader, readHfModel } from '../../src/model/io/index.ts';
import { writePeftAdapter, readPeftAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../../src/model/io/peft-adapter.ts';
import { peftPrefix } from '../../src/model/lora.ts';
import { runMerge } from '../../src/pipeline/merge-adapter.ts';
import { generate } from '../../src/rollout/generate.ts';
import { tinyConfig, randomWeights, withTempDir } from './io-fixtures.ts';
import { writeLlama2cTokenizer, tinySentencePieceVocab } from './tokenizer-fixtures.ts';
import { Rng } from '../../src/util/rng.ts';
import { GrpoError } from '../../src/errors.ts';

const root = join(import.meta.dirname, '../..');

/** A tiny HF base folder (with a tokenizer) and a trained-looking adapter saved beside it. */
function fixture(dir: string) {
  const { pieces, scores } = tinySentencePieceVocab();
  writeLlama2cTokenizer(join(dir, 'tok.bin'), pieces, scores);
  const config = tinyConfig({ vocabSize: pieces.length, qkvBias: true, arch: 'qwen2' });
  writeHfModel(join(dir, 'base'), { config, weights: randomWeights(config, 3) }, { tokenizer: join(dir, 'tok.bin') });
  const model = new LlamaModel(config, {
    threads: 1,
    weights: readHfModel(join(dir, 'base')).weights,
    lora: { r: 4, alpha: 16, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
    basePrecision: 'f32',
  });
  const rng = new Rng(8);
  const a = model.lora!.save();
  for (const t of a.values()) t.data.forEach((_, i) => (t.data[i] = rng.normal() * 0.3));
  model.lora!.load(a);
  writePeftAdapter(join(dir, 'adapter'), model.lora!, { baseModel: join(dir, 'base') });
  return { config, model, adapters: a };
}

const seqs = [
  [1, 5, 9, 12, 3, 7],
  [2, 4, 6],
];
const maxDiff = (a: Float32Array[], b: Float32Array[]) =>
  a.reduce((m, x, i) => x.reduce((mm, v, j) => Math.max(mm, Math.abs(v - b[i][j])), m), 0);

test("a saved adapter has PEFT's config, names and shapes, and round-trips exactly onto its base", () =>
  withTempDir((dir) => {
    const { config, model, adapters } = fixture(dir);
    try {
      const c = JSON.parse(readFileSync(join(dir, 'adapter', ADAPTER_CONFIG), 'utf8'));
      assert.deepEqual(
        [c.peft_type, c.task_type, c.r, c.lora_alpha, c.bias, c.use_rslora, c.use_dora, c.target_modules],
        ['LORA', 'CAUSAL_LM', 4, 16, 'none', false, false, ['q_proj', 'v_proj', 'down_proj']],
      );
      const header = readSafetensorsHeader(join(dir, 'adapter', ADAPTER_WEIGHTS));
      assert.deepEqual(header.entries.get('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight')?.shape, [
        4,
        config.dim,
      ]);
      assert.deepEqual(header.entries.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')?.shape, [
        config.dim,
        4,
      ]);
      assert.equal(header.entries.size, 2 * 3 * config.nLayers);
      const back = readPeftAdapter(join(dir, 'adapter'));
      for (const [name, t] of adapters) assert.deepEqual([...back.tensors.get(name)!.data], [...t.data], name);
      const opened = openModel(join(dir, 'base'), { adapter: join(dir, 'adapter'), basePrecision: 'f32', threads: 1 });
      try {
        assert.equal(maxDiff(opened.model.forward(seqs).logp, model.forward(seqs).logp), 0);
      } finally {
        opened.model.free();
      }
    } finally {
      model.free();
    }
  }));

test('grpo merge writes W + s·B·A exactly; the merged model computes what the adapted one does', () =>
  withTempDir((dir) => {
    const { model, adapters } = fixture(dir);
    try {
      runMerge(
        { model: join(dir, 'base'), adapter: join(dir, 'adapter'), out: join(dir, 'merged'), dtype: 'f32', threads: 1 },
        () => {},
      );
      const base = readHfModel(join(dir, 'base')).weights,
        merged = readHfModel(join(dir, 'merged')).weights;
      const name = 'model.layers.0.self_attn.v_proj.weight';
      const w = base.get(name)!,
        m = merged.get(name)!.data,
        [out, inF] = w.shape;
      const A = adapters.get(`${peftPrefix(name)}.lora_A.weight`)!.data,
        B = adapters.get(`${peftPrefix(name)}.lora_B.weight`)!.data;
      const wd = w.data;
      for (let i = 0; i < out; i++)
        for (let j = 0; j < inF; j++) {
          let s = 0;
          for (let k = 0; k < 4; k++) s += B[i * 4 + k] * A[k * inF + j];
          assert.ok(Math.abs(wd[i * inF + j] + 4 * s - m[i * inF + j]) < 1e-6, `[${i}, ${j}]`);
        }
      assert.deepEqual(
        [...merged.get('model.layers.0.self_attn.k_proj.weight')!.data],
        [...base.get('model.layers.0.self_attn.k_proj.weight')!.data],
        'unadapted matrices are copied',
      );
      const plain = openModel(join(dir, 'merged'), { threads: 1, precision: 'f32' });
      try {
        const d = maxDiff(plain.model.forward(seqs).logp, model.forward(seqs).logp);
        assert.ok(d < 1e-5, `merged vs adapted: ${d}`);
      } finally {
        plain.model.free();
      }
    } finally {
      model.free();
    }
  }));

test('grpo generate --adapter samples what the adapted model samples', () =>
  withTempDir((dir) => {
    const { model } = fixture(dir);
    model.free();
    const run = (extra: string[]) =>
      spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'src/cli/main.ts'),
          'generate',
          '--model',
          join(dir, 'base'),
          '--prompt',
          'hello',
          '--max-tokens',
          '8',
          '--seed',
          '3',
          '--json',
          '--threads',
          '1',
          '--precision',
          'f32',
          ...extra,
        ],
        { encoding: 'utf8', cwd: root },
      );
    const withAdapter = run(['--adapter', join(dir, 'adapter'), '--base-precision', 'f32']),
      without = run([]);
    assert.equal(withAdapter.status, 0, withAdapter.stderr);
    const lib = openModel(join(dir, 'base'), {
      adapter: join(dir, 'adapter'),
      basePrecision: 'f32',
      threads: 1,
      precision: 'f32',
    });
    try {
      const out = generate(lib.model, [lib.tokenizer.encode('hello')], { maxTokens: 8, seed: 3, temperature: 1 });
      assert.deepEqual(JSON.parse(withAdapter.stdout.trim()).tokens, out[0].tokens);
      assert.notDeepEqual(JSON.parse(without.stdout.trim()).logprobs, JSON.parse(withAdapter.stdout.trim()).logprobs);
    } finally {
      lib.model.free();
    }
  }));

test('adapters PEFT would apply differently are refused with the reason', () =>
  withTempDir((dir) => {
    const { model } = fixture(dir);
    model.free();
    const configPath = join(dir, 'adapter', ADAPTER_CONFIG);
    const original = JSON.parse(readFileSync(configPath, 'utf8'));
    for (const [patch, why] of [
      [{ use_dora: true }, /DoRA/],
      [{ bias: 'all' }, /bias is 'all'/],
      [{ modules_to_save: ['lm_head'] }, /modules_to_save/],
      [{ rank_pattern: { q_proj: 8 } }, /rank_pattern/],
      [{ peft_type: 'IA3' }, /not LORA/],
    ] as const) {
      writeFileSync(configPath, JSON.stringify({ ...original, ...patch }));
      assert.throws(
        () => readPeftAdapter(join(dir, 'adapter')),
        (e: unknown) => e instanceof GrpoError && why.test(e.message),
        JSON.stringify(patch),
      );
    }
    // a regex target_modules as PEFT allows it
    writeFileSync(configPath, JSON.stringify({ ...original, target_modules: '.*(q_proj|v_proj|down_proj)' }));
    assert.deepEqual(readPeftAdapter(join(dir, 'adapter')).options.targetModules, ['q_proj', 'v_proj', 'down_proj']);
  }));
