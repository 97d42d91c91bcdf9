// The engine on the device: decoding equals a full forward, and forward, backward and AdamW equal the CPU's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../src/rollout/generate.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from '../test/model/tiny-configs.ts';
import { LlamaModel } from '../src/model/llama-model.ts';
import { Rng } from '../src/util/rng.ts';
import { DEVICE, SKIP, REL_TOL, onBoth, relativeError } from './device-fixtures.ts';

const config = { ...tinyConfigs['qwen2 (bias, MHA)'], eosTokenIds: [] };
const weights = () => randomizeWeights(new LlamaModel(config, { threads: 1, device: 'cpu' }).weights.save(), 8);

test(`${DEVICE}: KV-cache decoding samples what the CPU samples and equals a full forward on the device`, {
  skip: SKIP,
}, () => {
  const { cpu, dev, free } = onBoth(config, weights());
  try {
    const prompts = [
      [1, 5, 9],
      [1, 30, 4, 4, 12, 7],
    ];
    const opts = { temperature: 1, maxTokens: 6, seed: 3 };
    const onCpu = generate(cpu, prompts, opts),
      onDev = generate(dev, prompts, opts);
    assert.deepEqual(
      onDev.map((c) => c.tokens),
      onCpu.map((c) => c.tokens),
    );
    assert.ok(
      relativeError(
        onCpu.flatMap((c) => c.logprobs),
        onDev.flatMap((c) => c.logprobs),
      ) < REL_TOL,
    );
    // the decoded log-probs are the device's own full-forward scores of the same tokens
    const seqs = onDev.map((c) => [...prompts[c.promptIndex], ...c.tokens]);
    const scored = dev.forward(seqs).logp;
    onDev.forEach((c, i) => {
      const tail = scored[i].slice(prompts[c.promptIndex].length - 1);
      assert.ok(relativeError(tail, c.logprobs) < REL_TOL, `sequence ${i}: ${tail} vs ${c.logprobs}`);
    });
  } finally {
    free();
  }
});

test(`${DEVICE}: gradients of Σ g·logp + h·V + e·H and an AdamW step equal the CPU's`, { skip: SKIP }, () => {
  const { cpu, dev, free } = onBoth(config, weights(), { valueHead: true });
  try {
    const rng = new Rng(5);
    const seqs = randomSequences(rng, [9, 5, 12], config.vocabSize);
    const coef = () => seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
    const c = { logp: coef(), values: coef(), entropy: coef() };
    const [optC, optD] = [cpu.createOptimizer(), dev.createOptimizer()];
    cpu.forward(seqs, { grad: true, entropy: true }).backward(c);
    dev.forward(seqs, { grad: true, entropy: true }).backward(c);
    for (const [name, t] of cpu.weights.byName) {
      const e = relativeError(optC.gradOf(t).readF32(), optD.gradOf(dev.weights.byName.get(name)!).readF32());
      assert.ok(e < REL_TOL, `${name}: gradient off by ${e.toExponential(2)} (relative)`);
    }
    const [stepC, stepD] = [optC.step({ lr: 1e-2 }), optD.step({ lr: 1e-2 })];
    assert.ok(Math.abs(stepC.gradNorm - stepD.gradNorm) < REL_TOL * stepC.gradNorm);
    const after = [cpu.weights.save(), dev.weights.save()];
    for (const [name, w] of after[0])
      assert.ok(relativeError(w.data, after[1].get(name)!.data) < REL_TOL, `${name} after AdamW`);
  } finally {
    free();
  }
});

/**
 * Tolerances of LoRA on a rounded base. bf16: both round the same weights, the CPU also rounds the activations a
 * product reads to bf16 (ggml's vec_dot), a GPU kernel may keep them f32. q8_0: both round activations to 8-bit
 * blocks (ggml-vulkan to q8_1), each its own way, so the device is compared with the exact f32 product of the
 * same dequantized weights instead — the CPU's own q8_0 path lands 2-5e-2 from it on this model.
 */
const LORA_TOL = { f32: REL_TOL, bf16: 1e-2, q8_0: 3e-2 };

for (const basePrecision of ['f32', 'bf16', 'q8_0'] as const) {
  test(`${DEVICE}: LoRA adapter gradients on a frozen ${basePrecision} base equal the CPU's`, { skip: SKIP }, () => {
    // q8_0 blocks hold 32 weights: every product's inner size must be a multiple of 32
    const shape = { ...config, ffnDim: 64 };
    const base = randomizeWeights(new LlamaModel(shape, { threads: 1, device: 'cpu' }).weights.save(), 8, 0.2);
    const lora = { r: 4, alpha: 8 };
    const dev = new LlamaModel(shape, { device: DEVICE, lora, basePrecision, weights: base });
    // the reference: the CPU on the same base, exact (f32) on the dequantized weights for q8_0
    const cpu = new LlamaModel(shape, {
      threads: 1,
      device: 'cpu',
      lora,
      ...(basePrecision === 'q8_0'
        ? { basePrecision: 'f32', weights: dev.weights.save() }
        : { basePrecision, weights: base }),
    });
    try {
      const rng = new Rng(7);
      const adapters = cpu.lora!.save();
      for (const t of adapters.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal() * 0.2;
      cpu.lora!.load(adapters);
      dev.lora!.load(adapters);
      const seqs = randomSequences(rng, [8, 11], shape.vocabSize);
      const logp = seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
      const [optC, optD] = [cpu.createOptimizer(), dev.createOptimizer()];
      assert.ok(
        relativeError(
          cpu.forward(seqs).logp.flatMap((r) => [...r]),
          dev.forward(seqs).logp.flatMap((r) => [...r]),
        ) < LORA_TOL[basePrecision],
        'log-probs',
      );
      cpu.forward(seqs, { grad: true }).backward({ logp });
      dev.forward(seqs, { grad: true }).backward({ logp });
      for (const [name, t] of cpu.lora!.byName) {
        const e = relativeError(optC.gradOf(t).readF32(), optD.gradOf(dev.lora!.byName.get(name)!).readF32());
        assert.ok(e < LORA_TOL[basePrecision], `${name}: gradient off by ${e.toExponential(2)} (relative)`);
      }
    } finally {
      cpu.free();
      dev.free();
    }
  });
}
