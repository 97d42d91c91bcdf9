import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { hostTensor } from '../../src/model/host-tensor.ts';
import { readLlama2cModel } from '../../src/model/io/llama2c-model.ts';
import { loadModelWeights } from '../../src/model/io/load-model.ts';
import { halfToInterleaved, interleavedToHalf } from '../../src/model/io/rope-permute.ts';
import { rng, withTempDir } from './io-fixtures.ts';

const P = { dim: 16, hidden: 24, layers: 2, heads: 4, kvHeads: 2, vocab: 37, seq: 10 };
const hd = P.dim / P.heads,
  kv = P.kvHeads * hd;

/** llama2.c-layout tensors (interleaved RoPE rows) for a tiny model, keyed by llama2.c kind. */
function llama2cTensors(seed: number, shared: boolean) {
  const r = rng(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, r);
  const perLayer = (n: number) => Array.from({ length: P.layers }, () => rand(n));
  return {
    embed: rand(P.vocab * P.dim),
    attnNorm: perLayer(P.dim),
    wq: perLayer(P.dim * P.dim),
    wk: perLayer(kv * P.dim),
    wv: perLayer(kv * P.dim),
    wo: perLayer(P.dim * P.dim),
    ffnNorm: perLayer(P.dim),
    w1: perLayer(P.hidden * P.dim),
    w2: perLayer(P.dim * P.hidden),
    w3: perLayer(P.hidden * P.dim),
    norm: rand(P.dim),
    freqReal: rand((P.seq * hd) / 2),
    freqImag: rand((P.seq * hd) / 2),
    wcls: shared ? undefined : rand(P.vocab * P.dim),
  };
}
type T = ReturnType<typeof llama2cTensors>;

function ints(...v: number[]): Buffer {
  return Buffer.from(new Int32Array(v).buffer);
}
function floats(...arrays: Float32Array[]): Buffer {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

/** run.c's legacy layout: header, then each kind over all layers, freq_cis tables, classifier if unshared. */
function legacyFile(t: T): Buffer {
  return Buffer.concat([
    ints(P.dim, P.hidden, P.layers, P.heads, P.kvHeads, t.wcls ? -P.vocab : P.vocab, P.seq),
    floats(
      t.embed,
      ...t.attnNorm,
      ...t.wq,
      ...t.wk,
      ...t.wv,
      ...t.wo,
      ...t.ffnNorm,
      ...t.w1,
      ...t.w2,
      ...t.w3,
      t.norm,
      t.freqReal,
      t.freqImag,
      ...(t.wcls ? [t.wcls] : []),
    ),
  ]);
}

/** export.py version1_export: "ak42", version 1, params, shared flag byte, pad to 256, norms first. */
function version1File(t: T): Buffer {
  const head = Buffer.alloc(256);
  head.writeUInt32LE(0x616b3432, 0);
  head.writeInt32LE(1, 4);
  [P.dim, P.hidden, P.layers, P.heads, P.kvHeads, P.vocab, P.seq].forEach((v, i) => head.writeInt32LE(v, 8 + 4 * i));
  head[36] = t.wcls ? 0 : 1;
  return Buffer.concat([
    head,
    floats(
      ...t.attnNorm,
      ...t.ffnNorm,
      t.norm,
      t.embed,
      ...t.wq,
      ...t.wk,
      ...t.wv,
      ...t.wo,
      ...t.w1,
      ...t.w2,
      ...t.w3,
      ...(t.wcls ? [t.wcls] : []),
    ),
  ]);
}

/** HF row r of head h sits at llama2.c row h*hd + 2*(r % (hd/2)) + floor(r / (hd/2)) (convert_llama_weights_to_hf). */
function expectedHfRows(src: Float32Array, nHeads: number): Float32Array {
  const rows = nHeads * hd,
    cols = src.length / rows,
    half = hd / 2;
  const out = new Float32Array(src.length);
  for (let row = 0; row < rows; row++) {
    const h = Math.floor(row / hd),
      w = row % hd;
    const from = h * hd + 2 * (w % half) + Math.floor(w / half);
    out.set(src.subarray(from * cols, (from + 1) * cols), row * cols);
  }
  return out;
}

for (const [label, make, shared] of [
  ['legacy shared', legacyFile, true],
  ['legacy unshared', legacyFile, false],
  ['version 1 shared', version1File, true],
  ['version 1 unshared', version1File, false],
] as const) {
  test(`llama2.c ${label}: config, HF names, and q/k rows permuted to HF layout`, () =>
    withTempDir((dir) => {
      const t = llama2cTensors(9, shared);
      const path = join(dir, 'model.bin');
      writeFileSync(path, make(t));
      const { config, weights, format } = loadModelWeights(path);
      assert.equal(format, 'llama2c');
      assert.deepEqual(config, {
        arch: 'llama',
        vocabSize: P.vocab,
        dim: P.dim,
        nLayers: P.layers,
        nHeads: P.heads,
        nKvHeads: P.kvHeads,
        headDim: hd,
        ffnDim: P.hidden,
        ropeTheta: 10000,
        normEps: 1e-5,
        maxSeqLen: P.seq,
        tieEmbeddings: shared,
        qkvBias: false,
        qkNorm: false,
        bosTokenId: 1,
        eosTokenIds: [2],
      });
      const get = (n: string) => weights.get(n)!.data;
      assert.deepEqual(get('model.embed_tokens.weight'), t.embed);
      assert.deepEqual(get('model.layers.1.input_layernorm.weight'), t.attnNorm[1]);
      assert.deepEqual(get('model.layers.1.post_attention_layernorm.weight'), t.ffnNorm[1]);
      assert.deepEqual(get('model.layers.1.self_attn.q_proj.weight'), expectedHfRows(t.wq[1], P.heads));
      assert.deepEqual(get('model.layers.0.self_attn.k_proj.weight'), expectedHfRows(t.wk[0], P.kvHeads));
      assert.deepEqual(get('model.layers.0.self_attn.v_proj.weight'), t.wv[0]);
      assert.deepEqual(get('model.layers.0.self_attn.o_proj.weight'), t.wo[0]);
      assert.deepEqual(get('model.layers.1.mlp.gate_proj.weight'), t.w1[1]);
      assert.deepEqual(get('model.layers.1.mlp.down_proj.weight'), t.w2[1]);
      assert.deepEqual(get('model.layers.1.mlp.up_proj.weight'), t.w3[1]);
      assert.deepEqual(get('model.norm.weight'), t.norm);
      assert.equal(weights.has('lm_head.weight'), !shared);
      if (!shared) assert.deepEqual(get('lm_head.weight'), t.wcls);
      assert.deepEqual(weights.get('model.layers.0.self_attn.k_proj.weight')!.shape, [kv, P.dim]);
    }));
}

/** RoPE on one head vector: interleaved pairs (2i, 2i+1) or half pairs (i, i + hd/2). */
function rope(x: Float64Array, pos: number, interleaved: boolean): Float64Array {
  const out = new Float64Array(x.length),
    half = x.length / 2;
  for (let i = 0; i < half; i++) {
    const angle = pos * 10000 ** ((-2 * i) / x.length);
    const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
    out[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
    out[b] = x[a] * Math.sin(angle) + x[b] * Math.cos(angle);
  }
  return out;
}

test('permuted q/k with half-rotation RoPE give the same attention scores as llama2.c interleaved RoPE', () => {
  const r = rng(21);
  const headDim = 8,
    nHeads = 2,
    nKv = 1,
    dim = 6;
  const wq = hostTensor([nHeads * headDim, dim], Float32Array.from({ length: nHeads * headDim * dim }, r));
  const wk = hostTensor([nKv * headDim, dim], Float32Array.from({ length: nKv * headDim * dim }, r));
  const x1 = Array.from({ length: dim }, r),
    x2 = Array.from({ length: dim }, r);
  const project = (w: Float32Array, x: number[], head: number) =>
    Float64Array.from({ length: headDim }, (_, o) =>
      x.reduce((s, xi, c) => s + w[(head * headDim + o) * dim + c] * xi, 0),
    );
  const score = (q: Float32Array, k: Float32Array, interleaved: boolean, head: number) => {
    const qr = rope(project(q, x1, head), 5, interleaved),
      kr = rope(project(k, x2, 0), 2, interleaved);
    return qr.reduce((s, v, i) => s + v * kr[i], 0);
  };
  const hfQ = interleavedToHalf(wq, nHeads),
    hfK = interleavedToHalf(wk, nKv);
  for (let h = 0; h < nHeads; h++) {
    const a = score(wq.data, wk.data, true, h),
      b = score(hfQ.data, hfK.data, false, h);
    assert.ok(Math.abs(a - b) < 1e-9, `head ${h}: ${a} vs ${b}`);
  }
  assert.deepEqual(halfToInterleaved(hfQ, nHeads), wq);
  // one head of 4 rows: interleaved [r0 r1 r2 r3] -> HF [r0 r2 r1 r3]
  assert.deepEqual([...interleavedToHalf(hostTensor([4], Float32Array.of(0, 1, 2, 3)), 1).data], [0, 2, 1, 3]);
});

test('llama2.c reader rejects files whose size does not match the header, and v2 (int8) files', () =>
  withTempDir((dir) => {
    const path = join(dir, 'x.bin');
    writeFileSync(path, legacyFile(llama2cTensors(1, true)).subarray(0, 500));
    assert.throws(
      () => readLlama2cModel(path),
      (e: unknown) => e instanceof GrpoError && /should be \d+ bytes/.test(e.message),
    );
    const v2 = Buffer.alloc(256);
    v2.writeUInt32LE(0x616b3432, 0);
    v2.writeInt32LE(2, 4);
    writeFileSync(path, v2);
    assert.throws(() => readLlama2cModel(path), /version 2/);
    writeFileSync(path, Buffer.from('hello world, this is not a model at all!!'));
    assert.throws(() => readLlama2cModel(path), GrpoError);
  }));
