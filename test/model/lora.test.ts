/**
 * LoRA on a frozen base: the adapted forward equals the forward of explicitly merged weights, W + s·B·A;
 * adapters off equals the base; the A/B gradients match finite differences (all seven targets, tied and untied,
 * biases, q/k norm); a bf16 and a q8_0 base stay close to f32; dropout acts in training only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { LORA_TARGETS, checkLoraRank, peftPrefix } from '../../src/model/lora.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';
import { assertGradientMatchesFd } from './fd-check.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';
import type { LlamaConfig } from '../../src/model/config.ts';
import { GrpoError } from '../../src/errors.ts';

/** Random non-zero adapters (B = 0 at init would make every check trivial). */
function randomAdapters(model: LlamaModel, seed: number, std = 0.2): WeightMap {
  const rng = new Rng(seed);
  const map = model.lora!.save();
  for (const t of map.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal() * std;
  return map;
}

/** HF-layout merge: W[out, in] += s · B[out, r] · A[r, in] for every adapted projection. */
function merged(base: WeightMap, adapters: WeightMap, scale: number): WeightMap {
  const out: WeightMap = new Map([...base].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]));
  for (const [name, w] of out) {
    const a = adapters.get(`${peftPrefix(name)}.lora_A.weight`),
      b = adapters.get(`${peftPrefix(name)}.lora_B.weight`);
    if (!a || !b) continue;
    const [outF, inF] = w.shape,
      r = a.shape[0];
    for (let i = 0; i < outF; i++)
      for (let j = 0; j < inF; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b.data[i * r + k] * a.data[k * inF + j];
        w.data[i * inF + j] += scale * s;
      }
  }
  return out;
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) =>
  a.reduce((m, x, i) => x.reduce((mm, v, j) => Math.max(mm, Math.abs(v - b[i][j])), m), 0);

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`LoRA forward equals the merged weights; adapters off equals the base: ${label}`, () => {
    const lora = new LlamaModel(config, { threads: 1, lora: { r: 4, alpha: 8 }, basePrecision: 'f32' });
    const plain = new LlamaModel(config, { threads: 1 });
    try {
      const base = randomizeWeights(lora.weights.save(), 3, 0.2);
      lora.weights.load(base);
      const adapters = randomAdapters(lora, 5);
      lora.lora!.load(adapters);
      const seqs = randomSequences(new Rng(1), [11, 6, 9], config.vocabSize);
      plain.weights.load(merged(base, adapters, lora.lora!.scale));
      const d1 = maxDiff(lora.forward(seqs).logp, plain.forward(seqs).logp);
      assert.ok(d1 < 1e-4, `adapted vs merged: ${d1}`);
      plain.weights.load(base);
      const d2 = maxDiff(lora.forward(seqs, { adapters: false }).logp, plain.forward(seqs).logp);
      assert.ok(d2 < 1e-5, `adapters off vs base: ${d2}`);
      assert.ok(maxDiff(lora.forward(seqs).logp, plain.forward(seqs).logp) > 1e-3, 'the adapters change the model');
    } finally {
      lora.free();
      plain.free();
    }
  });

  test(`LoRA A/B gradients match finite differences through a frozen base: ${label}`, () => {
    const model = new LlamaModel(config, {
      threads: 1,
      lora: { r: 4, alpha: 8 },
      basePrecision: 'f32',
      valueHead: true,
    });
    try {
      const opt = model.createOptimizer();
      assert.equal(
        opt.params.length,
        2 * LORA_TARGETS.length * config.nLayers + 1,
        'adapters and the value head train, nothing else',
      );
      model.weights.load(randomizeWeights(model.weights.save(), 3, 0.3));
      const a0 = randomAdapters(model, 6, 0.3);
      model.lora!.load(a0);
      const rng = new Rng(9);
      const seqs = randomSequences(rng, [9, 12], config.vocabSize);
      const g = seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
      const objective = () =>
        model.forward(seqs).logp.reduce((L, row, b) => row.reduce((l, x, t) => l + g[b][t] * x, L), 0);
      model.forward(seqs, { grad: true }).backward({ logp: g });
      const names = [...model.lora!.byName.keys()];
      const grads = new Map(names.map((n) => [n, opt.gradOf(model.lora!.byName.get(n)!).readF32()]));
      assertGradientMatchesFd({ names, start: a0, grads, load: (w) => model.lora!.load(w), objective, rng, label });
    } finally {
      model.free();
    }
  });
}

test("a new adapter leaves the model unchanged (B = 0) and A follows PEFT's Kaiming-uniform bound 1/√in", () => {
  const config = tinyConfigs['qwen2 (bias, MHA)'];
  const model = new LlamaModel(config, { threads: 1, lora: {}, basePrecision: 'f32', seed: 4 });
  try {
    const s = model.lora!.settings;
    assert.deepEqual([s.r, s.alpha, s.dropout, s.useRslora, s.targetModules], [16, 32, 0, false, [...LORA_TARGETS]]);
    assert.equal(model.lora!.scale, 2);
    const seqs = [[1, 2, 3, 4, 5, 6]];
    const on = model.forward(seqs).logp,
      off = model.forward(seqs, { adapters: false }).logp;
    assert.ok(maxDiff(on, off) === 0);
    const a = model.lora!.byName.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')!.readF32();
    const bound = 1 / Math.sqrt(config.ffnDim);
    assert.ok(a.every((x) => Math.abs(x) <= bound) && a.some((x) => Math.abs(x) > bound / 2));
    const rs = new LlamaModel(config, { threads: 1, lora: { r: 4, alpha: 8, useRslora: true }, basePrecision: 'f32' });
    assert.equal(rs.lora!.scale, 8 / 2);
    rs.free();
  } finally {
    model.free();
  }
});

test('a bf16 and a q8_0 base stay close to the f32 base; their backward trains the adapters', () => {
  // q8_0 needs every input size to be a multiple of 32
  const config: LlamaConfig = { ...tinyConfigs['llama (GQA, tied)'], dim: 64, ffnDim: 128, headDim: 16 };
  const seqs = randomSequences(new Rng(2), [20, 13], config.vocabSize);
  const results: Record<string, Float32Array[]> = {};
  const grads: Record<string, Float32Array[]> = {};
  let weights: WeightMap | null = null;
  for (const basePrecision of ['f32', 'bf16', 'q8_0'] as const) {
    const model = new LlamaModel(config, { threads: 1, lora: { r: 8 }, basePrecision, seed: 1 });
    try {
      weights ??= randomizeWeights(model.weights.save(), 7, 0.1);
      model.weights.load(weights);
      const opt = model.createOptimizer();
      results[basePrecision] = model.forward(seqs).logp;
      const pass = model.forward(seqs, { grad: true });
      pass.backward({ logp: pass.logp.map((r) => Array.from(r, () => -1)) });
      grads[basePrecision] = opt.params.map((p) => opt.gradOf(p).readF32());
      const gB = opt
        .gradOf(model.lora!.byName.get('base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight')!)
        .readF32();
      assert.ok(
        gB.some((x) => x !== 0) && gB.every(Number.isFinite),
        `${basePrecision}: adapter B gets a finite, non-zero gradient`,
      );
      const before = model.forward(seqs).logp;
      opt.step({ lr: 1e-2 });
      assert.ok(maxDiff(before, model.forward(seqs).logp) > 0, `${basePrecision}: a step changes the adapted model`);
    } finally {
      model.free();
    }
  }
  const bf16 = maxDiff(results.f32, results.bf16),
    q8 = maxDiff(results.f32, results.q8_0);
  assert.ok(bf16 > 0 && bf16 < 2e-2, `bf16 base: ${bf16}`);
  assert.ok(q8 > 0 && q8 < 5e-2, `q8_0 base: ${q8}`);
  // the adapters' gradient through a low-precision base (its transposed copy included) is close to the exact one
  const relative = (a: Float32Array[], b: Float32Array[]) => {
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
  assert.ok(relative(grads.f32, grads.bf16) < 3e-2, `bf16 base gradient: ${relative(grads.f32, grads.bf16)}`);
  assert.ok(relative(grads.f32, grads.q8_0) < 6e-2, `q8_0 base gradient: ${relative(grads.f32, grads.q8_0)}`);
});

test('LoRA dropout masks the adapter input in training only, and redraws every forward', () => {
  const config = tinyConfigs['qwen2 (bias, MHA)'];
  const model = new LlamaModel(config, { threads: 1, lora: { r: 4, dropout: 0.5 }, basePrecision: 'f32' });
  try {
    model.createOptimizer();
    model.lora!.load(randomAdapters(model, 3, 0.5));
    const seqs = [[1, 2, 3, 4, 5, 6, 7]];
    const scored = model.forward(seqs).logp;
    const t1 = model.forward(seqs, { grad: true }).logp,
      t2 = model.forward(seqs, { grad: true }).logp;
    assert.ok(maxDiff(scored, model.forward(seqs).logp) === 0, 'scoring is deterministic (no dropout)');
    assert.ok(maxDiff(scored, t1) > 1e-4 && maxDiff(t1, t2) > 1e-4, 'training forwards draw new masks');
  } finally {
    model.free();
  }
});

test("a LoRA rank past a target matrix's smaller side is a config error naming the matrix and its shape", () => {
  const config = tinyConfigs['qwen3 (q/k norm, GQA 4:1)'];
  const kv = config.nKvHeads * config.headDim; // k_proj is [kv, dim], the narrowest target
  assert.throws(
    () => checkLoraRank(config, { r: kv + 1 }),
    (e: unknown) =>
      e instanceof GrpoError &&
      e.code === 'config' &&
      e.message.includes(`'model.lora.r' ${kv + 1}`) &&
      e.message.includes(`'model.layers.0.self_attn.k_proj.weight' [${kv}, ${config.dim}]`),
  );
  // r equal to the smaller side is full rank, and allowed; leaving k/v out allows a larger r
  checkLoraRank(config, { r: kv });
  checkLoraRank(config, { r: kv + 1, targetModules: ['q_proj', 'o_proj'] });
  // an adapter file with such a rank (PEFT accepts it) still loads
  new LlamaModel(config, { threads: 1, lora: { r: kv + 1 }, basePrecision: 'f32' }).free();
});
