/**
 * Gradient checkpointing changes memory, not numbers: with `recompute` every gradient (full fine-tuning and LoRA)
 * equals the one without, and a deep model's training graph needs less memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel, type ModelOptions } from '../../src/model/llama-model.ts';
import { BatchGraph } from '../../src/model/batch-graph.ts';
import { AdamW } from '../../src/engine/optimizer.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';

for (const [label, extra] of [
  ['full fine-tuning', {}],
  ['LoRA', { lora: { r: 4 }, basePrecision: 'f32' }],
] as [string, ModelOptions][]) {
  test(`recomputed layers give the same gradients: ${label}`, () => {
    const config = tinyConfigs['qwen3 (q/k norm, GQA 4:1)'];
    const run = (recompute: boolean) => {
      // the head recomputes its logits either way (recomputation turns keeping its probabilities off; head-chunks.test.ts
      // compares the two), so the gradients differ only by what layer recomputation does
      const model = new LlamaModel(config, { threads: 1, valueHead: true, recompute, headKeepBytes: 0, ...extra });
      try {
        const opt = model.createOptimizer();
        model.weights.load(randomizeWeights(model.weights.save(), 4, 0.2));
        if (model.lora) {
          const a = model.lora.save();
          const r = new Rng(2);
          for (const t of a.values()) t.data.forEach((_, i) => (t.data[i] = r.normal() * 0.2));
          model.lora.load(a);
        }
        const rng = new Rng(3);
        const seqs = randomSequences(rng, [14, 9, 20], config.vocabSize);
        const coef = () => seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
        const pass = model.forward(seqs, { grad: true, entropy: true });
        pass.backward({ logp: coef(), values: coef(), entropy: coef() });
        return opt.params.map((p) => opt.gradOf(p).readF32());
      } finally {
        model.free();
      }
    };
    const plain = run(false),
      again = run(true);
    plain.forEach((g, i) =>
      g.forEach((x, j) =>
        assert.ok(
          Math.abs(x - again[i][j]) <= 1e-6 * (1 + Math.abs(x)),
          `parameter ${i}[${j}]: ${x} vs ${again[i][j]}`,
        ),
      ),
    );
  });
}

test('recomputation shrinks the training graph of a deep model', () => {
  const config = { ...tinyConfigs['llama (GQA, tied)'], nLayers: 8, dim: 64, ffnDim: 256, headDim: 16 };
  const model = new LlamaModel(config, { threads: 1 });
  try {
    const opt = new AdamW(model.backend, model.weights.parameters);
    const bytes = (recompute: boolean) => {
      const g = new BatchGraph(model.backend, model.weights, {
        kind: 'train',
        shape: { N: 256, M: 256, families: [{ rows: 4, queries: 64, keys: 64 }] },
        entropy: 'none',
        temperature: 1,
        copies: model.weightCopies(),
        gradAccumulators: opt.gradAccumulators,
        recompute,
      });
      const n = g.graph.allocatedBytes;
      g.free();
      return n;
    };
    const kept = bytes(false),
      recomputed = bytes(true);
    assert.ok(recomputed < kept / 2, `${recomputed} bytes with recomputation, ${kept} without`);
    opt.free();
  } finally {
    model.free();
  }
});
