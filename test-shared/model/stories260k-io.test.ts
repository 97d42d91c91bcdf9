/**
 * stories260K through the weight readers and the llama2.c tokenizer, checked without the ggml graph:
 * .bin and .gguf give identical tensors after their permutations, and a plain TypeScript forward pass in
 * Hugging Face conventions (half-rotation RoPE) over those weights reproduces llama2.c's golden greedy text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LlamaConfig } from '../../src/model/config.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';
import { readGgufFile, readGgufTensor } from '../../src/model/io/gguf-format.ts';
import { writeGgufModel } from '../../src/model/io/gguf-writer.ts';
import { readHfModel, writeHfModel } from '../../src/model/io/hf-folder.ts';
import { loadModelWeights } from '../../src/model/io/load-model.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import type { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { SHARED_DATA } from './shared-data.ts';

const models = path.join(SHARED_DATA, 'models');
const golden = readFileSync(path.join(models, 'expected_greedy_200.txt'), 'utf8');

test('tok512.bin: the golden text encodes to BOS + 200 tokens and decodes back exactly; the GGUF vocabulary agrees', () => {
  const tok = loadTokenizer(path.join(models, 'tok512.bin'));
  assert.deepEqual([tok.vocabSize, tok.bosId, tok.eosIds], [512, 1, [2]]);
  const ids = tok.encode(golden);
  assert.equal(ids[0], 1);
  assert.equal(ids.length, 201);
  assert.equal(tok.decode(ids), golden, 'leading space after BOS dropped, <0xXX> decoded as bytes');
  assert.equal(tok.decode(ids.slice(1)), ' ' + golden);
  const fromGguf = loadTokenizer(path.join(models, 'stories260K.gguf'));
  assert.deepEqual(fromGguf.encode(golden), ids);
  assert.equal(fromGguf.decode(ids), golden);
});

test('stories260K from .bin and from .gguf: same config and identical tensors', () => {
  const bin = loadModelWeights(path.join(models, 'stories260K.bin'));
  const gguf = loadModelWeights(path.join(models, 'stories260K.gguf'));
  // The GGUF (made by llama.cpp's convert-llama2c-to-ggml) stores the classifier separately and a 2048 context.
  assert.deepEqual({ ...gguf.config, maxSeqLen: 512, tieEmbeddings: true }, bin.config);
  assert.equal(bin.config.tieEmbeddings, true);
  const names = [...bin.weights.keys()];
  assert.deepEqual([...gguf.weights.keys()].sort(), [...names, 'lm_head.weight'].sort());
  for (const name of names) {
    const a = bin.weights.get(name)!,
      b = gguf.weights.get(name)!;
    assert.deepEqual(b.shape, a.shape, name);
    assert.ok(
      a.data.every((x, i) => Object.is(x, b.data[i])),
      `${name} differs`,
    );
  }
  assert.deepEqual(gguf.weights.get('lm_head.weight')!.data, bin.weights.get('model.embed_tokens.weight')!.data);
});

/** Naive single-sequence decoder in HF conventions (float64 accumulation), with a KV cache. */
function referenceGreedy(c: LlamaConfig, w: WeightMap, start: number, steps: number): number[] {
  const get = (n: string) => w.get(n)!.data;
  const matvec = (m: Float32Array, x: Float64Array, rows: number) => {
    const cols = x.length,
      out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += m[r * cols + k] * x[k];
      out[r] = s;
    }
    return out;
  };
  const rmsnorm = (x: Float64Array, g: Float32Array) => {
    const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
    const inv = 1 / Math.sqrt(ms + c.normEps);
    return x.map((v, i) => v * inv * g[i]);
  };
  const hd = c.headDim,
    half = hd / 2;
  const rope = (v: Float64Array, heads: number, pos: number) => {
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const a = pos * c.ropeTheta ** ((-2 * i) / hd),
          x0 = v[h * hd + i],
          x1 = v[h * hd + i + half];
        v[h * hd + i] = x0 * Math.cos(a) - x1 * Math.sin(a);
        v[h * hd + i + half] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
  };
  const keys: Float64Array[][] = Array.from({ length: c.nLayers }, () => []);
  const values: Float64Array[][] = Array.from({ length: c.nLayers }, () => []);
  const lmHead = c.tieEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight');
  const out = [start];
  for (let pos = 0; pos < steps; pos++) {
    const token = out[pos];
    let x = Float64Array.from(get('model.embed_tokens.weight').subarray(token * c.dim, (token + 1) * c.dim));
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}.`;
      const h = rmsnorm(x, get(p + 'input_layernorm.weight'));
      const q = matvec(get(p + 'self_attn.q_proj.weight'), h, c.nHeads * hd);
      const k = matvec(get(p + 'self_attn.k_proj.weight'), h, c.nKvHeads * hd);
      rope(q, c.nHeads, pos);
      rope(k, c.nKvHeads, pos);
      keys[l].push(k);
      values[l].push(matvec(get(p + 'self_attn.v_proj.weight'), h, c.nKvHeads * hd));
      const att = new Float64Array(c.nHeads * hd);
      for (let head = 0; head < c.nHeads; head++) {
        const kvh = Math.floor(head / (c.nHeads / c.nKvHeads));
        const scores = keys[l].map((kk) => {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[head * hd + i] * kk[kvh * hd + i];
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...scores),
          e = scores.map((s) => Math.exp(s - m)),
          z = e.reduce((a, b) => a + b, 0);
        values[l].forEach((vv, t) => {
          for (let i = 0; i < hd; i++) att[head * hd + i] += (e[t] / z) * vv[kvh * hd + i];
        });
      }
      const o = matvec(get(p + 'self_attn.o_proj.weight'), att, c.dim);
      x = x.map((v, i) => v + o[i]);
      const h2 = rmsnorm(x, get(p + 'post_attention_layernorm.weight'));
      const gate = matvec(get(p + 'mlp.gate_proj.weight'), h2, c.ffnDim),
        up = matvec(get(p + 'mlp.up_proj.weight'), h2, c.ffnDim);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(get(p + 'mlp.down_proj.weight'), act, c.dim);
      x = x.map((v, i) => v + down[i]);
    }
    const logits = matvec(lmHead, rmsnorm(x, get('model.norm.weight')), c.vocabSize);
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    out.push(best);
  }
  return out;
}

test('a plain HF-convention forward pass over the .bin weights reproduces the golden greedy text', () => {
  const { config, weights } = loadModelWeights(path.join(models, 'stories260K.bin'));
  const tok = loadTokenizer(path.join(models, 'tok512.bin'));
  const ids = referenceGreedy(config, weights, 1, 200);
  assert.equal(tok.decode(ids), golden);
});

test('stories260K saved as an HF folder with tok512 converted to tokenizer.json loads back identically', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grpo-stories-'));
  try {
    const bin = loadModelWeights(path.join(models, 'stories260K.bin'));
    writeHfModel(path.join(dir, 'hf'), bin, { tokenizer: path.join(models, 'tok512.bin') });
    const back = readHfModel(path.join(dir, 'hf'));
    assert.deepEqual(back.config, bin.config);
    for (const [name, t] of bin.weights) assert.deepEqual(back.weights.get(name), t, name);
    const tok = loadTokenizer(path.join(dir, 'hf'));
    const original = loadTokenizer(path.join(models, 'tok512.bin'));
    assert.equal(tok.kind, 'hf');
    assert.deepEqual(tok.encode(golden), original.encode(golden));
    assert.equal(tok.decode(original.encode(golden)), golden);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stories260K written by writeGgufModel has the tensor bytes and layout llama.cpp's own converter wrote", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grpo-stories-'));
  try {
    const bin = loadModelWeights(path.join(models, 'stories260K.bin'));
    const tok = loadTokenizer(path.join(models, 'tok512.bin')) as SentencePieceBpeTokenizer;
    const out = path.join(dir, 'ours.gguf');
    writeGgufModel(out, bin, { vocab: tok.toGgufVocab() });
    const ours = readGgufFile(out),
      ref = readGgufFile(path.join(models, 'stories260K.gguf'));
    const fdA = openSync(out, 'r'),
      fdB = openSync(path.join(models, 'stories260K.gguf'), 'r');
    try {
      for (const info of ours.tensors) {
        const other = ref.tensors.find((t) => t.name === info.name);
        assert.ok(other, `${info.name} exists in the reference GGUF`);
        assert.deepEqual([info.ne, info.type], [other.ne, other.type], info.name);
        assert.deepEqual(readGgufTensor(fdA, ours, info), readGgufTensor(fdB, ref, other), info.name);
      }
    } finally {
      closeSync(fdA);
      closeSync(fdB);
    }
    for (const key of [
      'llama.embedding_length',
      'llama.feed_forward_length',
      'llama.attention.head_count',
      'llama.attention.head_count_kv',
      'llama.block_count',
      'llama.rope.dimension_count',
      'llama.attention.layer_norm_rms_epsilon',
      'tokenizer.ggml.model',
      'tokenizer.ggml.bos_token_id',
      'tokenizer.ggml.eos_token_id',
    ]) {
      assert.deepEqual(ours.metadata.get(key)?.value, ref.metadata.get(key)?.value, key);
    }
    assert.deepEqual(loadTokenizer(out).encode(golden), tok.encode(golden));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
