/**
 * `grpo merge` on the embedded model and tiny random ones: the merged GGUF tokenizes, scores and evaluates as the
 * merged Hugging Face folder does (its BOS included); the merge keeps the base's dtype by default and warns when a
 * 16-bit dtype rounds the adapter away; an adapter recorded against another base is merged with a warning; a
 * damaged (non-finite) adapter is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openModel } from '../../src/model/open-model.ts';
import { writePeftAdapter, ADAPTER_WEIGHTS } from '../../src/model/io/peft-adapter.ts';
import {
  readGgufFile,
  readHfModel,
  readSafetensors,
  readSafetensorsHeader,
  writeGgufModel,
  writeHfModel,
  writeSafetensors,
} from '../../src/model/io/index.ts';
import { storedWeightDtype } from '../../src/model/io/stored-dtype.ts';
import { ggufGet } from '../../src/model/io/gguf-format.ts';
import { runMerge } from '../../src/pipeline/merge-adapter.ts';
import { runEval } from '../../src/cli/eval.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';
import { EMBEDDED_MODEL_DIR } from '../../src/data/synthetic/embedded-model.ts';
import { Rng } from '../../src/util/rng.ts';
import { GrpoError } from '../../src/errors.ts';
import { randomWeights, tinyConfig, withTempDir } from '../model/io-fixtures.ts';
import { tinySentencePieceVocab, writeLlama2cTokenizer } from '../model/tokenizer-fixtures.ts';

const root = join(import.meta.dirname, '../..');

/** An adapter on `base` (r 4, all projections) whose B is N(0, std²): std 1e-4 moves weights by ~1e-4, as training does. */
function writeAdapter(dir: string, base: string, std: number, baseModel: string | null = base): string {
  const { model } = openModel(base, { lora: { r: 4 }, basePrecision: 'f32', threads: 1 });
  try {
    model.lora!.initPeft(1);
    const tensors = model.lora!.save();
    const rng = new Rng(3);
    for (const [name, t] of tensors)
      if (name.includes('lora_B')) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal() * std;
    model.lora!.load(tensors);
    writePeftAdapter(dir, model.lora!, { baseModel: baseModel ?? undefined });
  } finally {
    model.free();
  }
  return dir;
}

const quiet = () => {};

/** A tiny random model's shape, and its tokenizer (a llama2.c .bin) written into `dir`. */
function tinyBase(dir: string) {
  const { pieces, scores } = tinySentencePieceVocab();
  const tokenizer = join(dir, 'tok.bin');
  writeLlama2cTokenizer(tokenizer, pieces, scores);
  return { config: tinyConfig({ vocabSize: pieces.length }), tokenizer };
}

test('the merged GGUF of the embedded model keeps its BOS and evaluates as the merged Hugging Face folder does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-merge-'));
  try {
    const adapter = writeAdapter(join(dir, 'adapter'), EMBEDDED_MODEL_DIR, 1e-3);
    const folder = join(dir, 'merged'),
      gguf = join(dir, 'merged.gguf');
    runMerge({ model: EMBEDDED_MODEL_DIR, adapter, out: folder, gguf, threads: 1 }, quiet);
    const reports: string[] = [];
    for (const model of [folder, gguf])
      await runEval({ model, data: 'embedded:addition', limit: 40, threads: 1 }, (l) => reports.push(l));
    assert.equal(reports[1], reports[0]);
    assert.ok(!reports[0].startsWith('accuracy=0.000'), reports[0]);
    assert.equal(ggufGet(readGgufFile(gguf), 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(ggufGet(readGgufFile(gguf), 'tokenizer.ggml.add_eos_token'), false);

    const fromFolder = openModel(folder, { threads: 1, precision: 'f32' }),
      fromGguf = openModel(gguf, { threads: 1, precision: 'f32' });
    try {
      const prompts = embeddedTask('embedded:addition')
        .heldOut(6, 1)
        .map((e) => e.prompt);
      const ids = prompts.map((p) => fromFolder.tokenizer.encode(p));
      assert.deepEqual(
        prompts.map((p) => fromGguf.tokenizer.encode(p)),
        ids,
      );
      assert.ok(
        ids.every((s) => s[0] === fromFolder.tokenizer.bosId),
        'prompts start with BOS',
      );
      const a = fromFolder.model.forward(ids).logp,
        b = fromGguf.model.forward(ids).logp;
      a.forEach((row, i) =>
        row.forEach((x, t) => assert.ok(Math.abs(x - b[i][t]) < 1e-5, `${i}/${t}: ${x} vs ${b[i][t]}`)),
      );
    } finally {
      fromFolder.model.free();
      fromGguf.model.free();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('grpo merge writes an F32 base in F32 by default: untouched weights are copied bit for bit, W + s·B·A exactly', () =>
  withTempDir((dir) => {
    const adapter = writeAdapter(join(dir, 'adapter'), EMBEDDED_MODEL_DIR, 1e-4);
    const warnings: string[] = [];
    runMerge({ model: 'embedded', adapter, out: join(dir, 'merged'), threads: 1 }, quiet, (w) => warnings.push(w));
    assert.deepEqual(warnings, []);
    const header = readSafetensorsHeader(join(dir, 'merged', 'model.safetensors'));
    assert.deepEqual(new Set([...header.entries.values()].map((e) => e.dtype)), new Set(['F32']));
    const base = readHfModel(EMBEDDED_MODEL_DIR).weights,
      merged = readHfModel(join(dir, 'merged')).weights;
    const untouched = 'model.layers.0.input_layernorm.weight';
    assert.deepEqual([...merged.get(untouched)!.data], [...base.get(untouched)!.data]);
    assert.deepEqual(
      [...merged.get('model.embed_tokens.weight')!.data],
      [...base.get('model.embed_tokens.weight')!.data],
    );
    // the adapter's change survives: what the base with the adapter on computes, the merged model computes
    const adapted = openModel(EMBEDDED_MODEL_DIR, { adapter, basePrecision: 'f32', threads: 1, precision: 'f32' }),
      plain = openModel(join(dir, 'merged'), { threads: 1, precision: 'f32' }),
      alone = openModel(EMBEDDED_MODEL_DIR, { threads: 1, precision: 'f32' });
    try {
      const seqs = [adapted.tokenizer.encode('12+34=')];
      const [x, y, z] = [adapted, plain, alone].map((m) => m.model.forward(seqs).logp[0]);
      const diff = (p: Float32Array, q: Float32Array) => Math.max(...p.map((v, i) => Math.abs(v - q[i])));
      assert.ok(diff(x, y) < 1e-5, `merged vs adapted: ${diff(x, y)}`);
      assert.ok(diff(y, z) > 10 * diff(x, y), `the merge changed the model: ${diff(y, z)}`);
    } finally {
      for (const m of [adapted, plain, alone]) m.model.free();
    }
  }));

test('a merge into bf16 that rounds the adapter away warns; one whose change survives does not', () =>
  withTempDir((dir) => {
    const warned = (std: number) => {
      const adapter = writeAdapter(join(dir, `adapter-${std}`), EMBEDDED_MODEL_DIR, std);
      const warnings: string[] = [];
      runMerge(
        { model: EMBEDDED_MODEL_DIR, adapter, out: join(dir, `merged-${std}`), dtype: 'bf16', threads: 1 },
        quiet,
        (w) => warnings.push(w),
      );
      const header = readSafetensorsHeader(join(dir, `merged-${std}`, 'model.safetensors'));
      assert.deepEqual(new Set([...header.entries.values()].map((e) => e.dtype)), new Set(['BF16']));
      return warnings;
    };
    const small = warned(1e-4);
    assert.equal(small.length, 1, small.join('\n'));
    assert.match(small[0], /^warning: \d+% of the \d+ weights the adapter changes .* BF16.* --dtype f32/);
    assert.deepEqual(warned(0.05), []);
  }));

test("the merge's default dtype is the base's: F32, BF16 and F16 folders, F16 and F32 GGUFs", () =>
  withTempDir((dir) => {
    const { config, tokenizer } = tinyBase(dir);
    const weights = randomWeights(config, 2);
    for (const dtype of ['BF16', 'F16', 'F32'] as const)
      writeHfModel(join(dir, dtype), { config, weights }, { dtype, tokenizer });
    writeGgufModel(join(dir, 'f16.gguf'), { config, weights }, { dtype: 'F16' });
    writeGgufModel(join(dir, 'f32.gguf'), { config, weights }, { dtype: 'F32' });
    assert.deepEqual(
      ['BF16', 'F16', 'F32', 'f16.gguf', 'f32.gguf'].map((p) => storedWeightDtype(join(dir, p))),
      ['BF16', 'F16', 'F32', 'F16', 'F32'],
    );
    // a bf16 or f16 base merges into its own dtype, and its untouched weights keep their bits
    for (const dtype of ['BF16', 'F16'] as const) {
      const adapter = writeAdapter(join(dir, `adapter-${dtype}`), join(dir, dtype), 0.05);
      const out = join(dir, `merged-${dtype}`);
      runMerge({ model: join(dir, dtype), adapter, out, threads: 1 }, quiet);
      const header = readSafetensorsHeader(join(out, 'model.safetensors'));
      assert.deepEqual(new Set([...header.entries.values()].map((e) => e.dtype)), new Set([dtype]));
      const name = 'model.layers.1.post_attention_layernorm.weight';
      assert.deepEqual(
        [...readHfModel(out).weights.get(name)!.data],
        [...readHfModel(join(dir, dtype)).weights.get(name)!.data],
      );
    }
  }));

test('merging an adapter recorded against another base warns in one line; its own base (or hub name) does not', () =>
  withTempDir((dir) => {
    const { config, tokenizer } = tinyBase(dir);
    writeHfModel(join(dir, 'base'), { config, weights: randomWeights(config, 2) }, { tokenizer });
    writeHfModel(join(dir, 'other'), { config, weights: randomWeights(config, 5) }, { tokenizer });
    const merge = (baseModel: string | null, model: string) => {
      const adapter = writeAdapter(join(dir, 'adapter'), join(dir, 'base'), 0.05, baseModel);
      const warnings: string[] = [];
      runMerge({ model, adapter, out: join(dir, 'merged'), dtype: 'f32', threads: 1 }, quiet, (w) => warnings.push(w));
      return warnings;
    };
    const other = merge(join(dir, 'base'), join(dir, 'other'));
    assert.equal(other.length, 1);
    assert.match(other[0], /trained on '.*\/base'.*not on .*\/other/);
    assert.ok(!other[0].includes('\n'));
    assert.deepEqual(merge(join(dir, 'base'), join(dir, 'base')), []);
    assert.deepEqual(merge('someorg/base', join(dir, 'base')), []);
    assert.deepEqual(merge(null, join(dir, 'other')), [], 'no recorded base');
    assert.equal(merge('someorg/other-model', join(dir, 'base')).length, 1);
  }));

test('an adapter with a NaN or an infinity is refused at load, naming the tensor: merge, generate --adapter', () =>
  withTempDir((dir) => {
    const adapter = writeAdapter(join(dir, 'adapter'), EMBEDDED_MODEL_DIR, 1e-3);
    const file = join(adapter, ADAPTER_WEIGHTS);
    const clean = readSafetensors(file);
    for (const [name, value] of [
      ['base_model.model.model.layers.1.mlp.down_proj.lora_B.weight', Number.NaN],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', Number.POSITIVE_INFINITY],
    ] as const) {
      const tensors = new Map([...clean].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]));
      tensors.get(name)!.data[5] = value;
      writeSafetensors(file, tensors);
      const named = (e: unknown) =>
        e instanceof GrpoError &&
        e.code === 'adapter' &&
        e.message.includes(`'${name}'`) &&
        /non-finite/.test(e.message);
      assert.throws(
        () => runMerge({ model: EMBEDDED_MODEL_DIR, adapter, out: join(dir, 'merged'), threads: 1 }, quiet, quiet),
        named,
      );
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'src/cli/main.ts'),
          'generate',
          '--model',
          EMBEDDED_MODEL_DIR,
          '--adapter',
          adapter,
          '--prompt',
          '1+2=',
          '--max-tokens',
          '4',
          '--threads',
          '1',
        ],
        { encoding: 'utf8', cwd: root },
      );
      assert.equal(r.status, 1, r.stdout);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(name), r.stderr);
    }
  }));
