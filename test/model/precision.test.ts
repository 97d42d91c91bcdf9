/**
 * BF16 mixed precision: the products read BF16 copies of the weights (and BF16-rounded activations), while master
 * weights, gradient accumulation and the log-softmax head stay f32. Stated tolerances against the f32 reference
 * (BF16 keeps 8 significant bits, a relative rounding of 2^-9 ≈ 2e-3 per operand): per-token log-probs within 3e-2,
 * the whole gradient within 3e-2 relative (L2), every parameter tensor's gradient within 6e-2 relative.
 * (Measured: 0.8–1.2e-2 global, ≤ 2.3e-2 per tensor, log-probs ≤ 1.1e-2.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { KvCache } from '../../src/model/kv-cache.ts';
import { DecodeGraph } from '../../src/model/decode-graph.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';
import { resolvePrecision } from '../../src/model/weight-copies.ts';
import type { Backend } from '../../src/engine/backend.ts';

const relativeL2 = (a: Float32Array[], b: Float32Array[]) => {
  let num = 0,
    den = 0;
  a.forEach((x, i) =>
    x.forEach((v, j) => {
      num += (v - b[i][j]) ** 2;
      den += v * v;
    }),
  );
  return Math.sqrt(num / den);
};

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`BF16 gradients and log-probs agree with f32 within the stated tolerance: ${label}`, () => {
    const run = (precision: 'f32' | 'bf16') => {
      const model = new LlamaModel(config, { threads: 1, valueHead: true, precision });
      try {
        const opt = model.createOptimizer();
        model.weights.load(randomizeWeights(model.weights.save(), 23, 0.1));
        const rng = new Rng(17);
        const seqs = randomSequences(rng, [30, 21, 40, 33], config.vocabSize);
        const coef = () => seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
        const pass = model.forward(seqs, { grad: true, entropy: true });
        pass.backward({ logp: coef(), values: coef(), entropy: coef() });
        return { logp: pass.logp, grads: model.weights.parameters.map((t) => opt.gradOf(t).readF32()) };
      } finally {
        model.free();
      }
    };
    const f32 = run('f32'),
      bf16 = run('bf16');
    let worstLogp = 0;
    f32.logp.forEach((x, i) => x.forEach((v, j) => (worstLogp = Math.max(worstLogp, Math.abs(v - bf16.logp[i][j])))));
    assert.ok(worstLogp <= 3e-2, `log-probs differ by ${worstLogp}`);
    const global = relativeL2(f32.grads, bf16.grads);
    assert.ok(global <= 3e-2, `gradient differs by ${global} relative`);
    // BF16 really is in use: the rounding shows
    assert.ok(global > 1e-4, `BF16 gradient equals the f32 one to ${global}: the BF16 copies are not being used`);
    f32.grads.forEach((g, i) => {
      const rel = relativeL2([g], [bf16.grads[i]]);
      assert.ok(rel <= 6e-2, `parameter ${i}: gradient differs by ${rel} relative`);
    });
  });
}

test('BF16 KV-cache decoding equals the BF16 full forward', () => {
  const config = tinyConfigs['qwen2 (bias, MHA)'];
  const model = new LlamaModel(config, { threads: 1, precision: 'bf16' });
  const cache = new KvCache(config, model.backend, 1, 16);
  let graph: DecodeGraph | null = null;
  try {
    model.weights.load(randomizeWeights(model.weights.save(), 5, 0.1));
    const seq = [3, 1, 4, 1, 5, 9, 2, 6];
    graph = new DecodeGraph(
      model.backend,
      model.weights,
      cache,
      { nNew: seq.length, span: seq.length, slots: 1, slotStride: 1 },
      model.weightCopies(),
    );
    graph.write(Int32Array.from(seq), [0], 0);
    const cached = graph.compute();
    const V = config.vocabSize;
    const full = model.logits([seq])[0].subarray((seq.length - 1) * V);
    const f32 = new LlamaModel(config, { threads: 1 });
    f32.weights.load(model.weights.save());
    const exact = f32.logits([seq])[0].subarray((seq.length - 1) * V);
    f32.free();
    let same = 0,
      rounding = 0;
    for (let v = 0; v < V; v++) {
      same = Math.max(same, Math.abs(cached[v] - full[v]));
      rounding = Math.max(rounding, Math.abs(full[v] - exact[v]));
    }
    assert.ok(same <= 1e-4, `BF16 decoding differs from the BF16 forward by ${same}`);
    assert.ok(rounding > 1e-5, 'the BF16 forward equals the f32 one: BF16 copies unused');
  } finally {
    graph?.free();
    cache.free();
    model.free();
  }
});

test("'auto' precision is bf16 where ggml's CPU build has vector BF16 (AVX2, AVX-512 BF16), else f32", () => {
  const cpu = (...features: string[]) => ({ features: new Set(features) }) as unknown as Backend;
  assert.equal(resolvePrecision('auto', cpu('SSE3', 'AVX', 'AVX2', 'FMA')), 'bf16');
  assert.equal(resolvePrecision('auto', cpu('AVX512', 'AVX512_BF16')), 'bf16');
  assert.equal(resolvePrecision('auto', cpu('NEON', 'ARM_FMA')), 'f32');
  assert.equal(resolvePrecision('f32', cpu('AVX2')), 'f32');
  assert.throws(() => resolvePrecision('fp8' as never, cpu()), /precision must be 'f32', 'bf16' or 'auto'/);
  // the real backend reports its features
  const model = new LlamaModel(tinyConfigs['qwen2 (bias, MHA)'], { threads: 1, precision: 'auto' });
  try {
    assert.equal(model.precision, resolvePrecision('auto', model.backend));
    assert.ok(model.backend.features.size > 0, 'the CPU backend lists its features');
  } finally {
    model.free();
  }
});
