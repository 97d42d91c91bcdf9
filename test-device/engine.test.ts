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

test(`${DEVICE}: KV-cache decoding samples what the CPU samples and equals a full forward on the device`, { skip: SKIP }, () => {
  const { cpu, dev, free } = onBoth(config, weights());
  try {
    const prompts = [[1, 5, 9], [1, 30, 4, 4, 12, 7]];
    const opts = { temperature: 1, maxTokens: 6, seed: 3 };
    const onCpu = generate(cpu, prompts, opts), onDev = generate(dev, prompts, opts);
    assert.deepEqual(onDev.map((c) => c.tokens), onCpu.map((c) => c.tokens));
    assert.ok(relativeError(onCpu.flatMap((c) => c.logprobs), onDev.flatMap((c) => c.logprobs)) < REL_TOL);
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
    for (const [name, w] of after[0]) assert.ok(relativeError(w.data, after[1].get(name)!.data) < REL_TOL, `${name} after AdamW`);
  } finally {
    free();
  }
});
