// Batch invariance (src/model/batch-invariance.ts): in f32 a request decodes, bit for bit, the tokens and log-probs
// it decodes alone, whatever joins the batch and whenever it joins — a one-token prompt prefilled beside long ones,
// spans that other sequences lengthen past 64 positions, LoRA adapters. In bf16 the products keep ggml's batched
// kernels: until a sampled token differs, the log-probs of the tokens both sampled agree within BF16_TOLERANCE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel, type ModelOptions } from '../../src/model/llama-model.ts';
import { SequenceDecoder } from '../../src/rollout/sequence-decoder.ts';
import type { SequenceRequest } from '../../src/rollout/decode-request.ts';
import type { Completion } from '../../src/rollout/completion.ts';
import { generate } from '../../src/rollout/generate.ts';
import { tinyConfig } from '../model/io-fixtures.ts';
import { randomizeWeights } from '../model/tiny-configs.ts';

/** as docs/serve.md states it (measured up to 2.1e-2 on models like this one) */
const BF16_TOLERANCE = 5e-2;

// widths that are whole SIMD blocks, so ggml's batched kernel (tinyBLAS) takes batched products, as it does for real
// models; a context past 64 positions, so spans grow while sequences decode
const config = tinyConfig({
  dim: 64,
  headDim: 16,
  nHeads: 4,
  nKvHeads: 2,
  ffnDim: 128,
  vocabSize: 96,
  maxSeqLen: 256,
  eosTokenIds: [],
});

const requests: { prompts: number[][]; r: SequenceRequest; joinAt: number }[] = [
  { prompts: [[1, 5, 9, 14, 20, 3, 3, 7]], r: { temperature: 0, maxTokens: 70 }, joinAt: 0 },
  // a one-token prompt prefilled together with a long one
  { prompts: [[7]], r: { temperature: 1, maxTokens: 30, seed: 3 }, joinAt: 2 },
  {
    prompts: [Array.from({ length: 40 }, (_, i) => (i * 7) % 96)],
    r: { temperature: 0.8, n: 2, maxTokens: 50, seed: 4 },
    joinAt: 2,
  },
  { prompts: [[2], [1, 2, 3, 4]], r: { temperature: 1.2, topK: 20, maxTokens: 24, seed: 9 }, joinAt: 5 },
  { prompts: [[6, 6, 6, 6]], r: { temperature: 1, topP: 0.9, maxTokens: 90, seed: 1 }, joinAt: 31 },
];

/** Every request's completions, decoded in one batch (joining at their steps) and each alone. */
function batchedAndAlone(opts: ModelOptions): { together: Completion[]; alone: Completion[] } {
  const model = new LlamaModel(config, { threads: 1, ...opts });
  let decoder: SequenceDecoder | null = null;
  try {
    model.weights.load(randomizeWeights(model.weights.save(), 3, 0.15));
    if (model.lora) model.lora.load(randomizeWeights(model.lora.save(), 8, 0.05));
    decoder = new SequenceDecoder(model); // after the loads: a decoder's BF16 copies are those of its start
    const running = new Map<number, ReturnType<SequenceDecoder['add']>>();
    for (let step = 0; step < 500 && (running.size < requests.length || !decoder.idle); step++) {
      requests.forEach((q, i) => {
        if (q.joinAt === step) running.set(i, decoder!.add(q.prompts, q.r));
      });
      decoder.step();
    }
    assert.ok(decoder.idle);
    return {
      together: requests.flatMap((_, i) => running.get(i)!.completions),
      alone: requests.flatMap((q) => generate(model, q.prompts, q.r)),
    };
  } finally {
    decoder?.free();
    model.free();
  }
}

for (const [label, opts] of [
  ['f32', { precision: 'f32' }],
  ['f32 with LoRA adapters', { precision: 'f32', lora: { r: 8, alpha: 16 }, basePrecision: 'f32' }],
] as [string, ModelOptions][]) {
  test(`${label}: requests batched together decode, bit for bit, what they decode alone`, () => {
    const { together, alone } = batchedAndAlone(opts);
    together.forEach((c, i) => {
      assert.deepEqual(c.tokens, alone[i].tokens, `sequence ${i}: tokens`);
      assert.deepEqual(c.logprobs, alone[i].logprobs, `sequence ${i}: log-probs`);
    });
  });
}

test(`bf16: until a sampled token differs, batched and alone log-probs agree within ${BF16_TOLERANCE}`, () => {
  const { together, alone } = batchedAndAlone({ precision: 'bf16' });
  let worst = 0;
  together.forEach((c, i) => {
    const parted = c.tokens.findIndex((t, k) => t !== alone[i].tokens[k]);
    const n = parted < 0 ? c.tokens.length : parted;
    for (let k = 0; k < n; k++) worst = Math.max(worst, Math.abs(c.logprobs[k] - alone[i].logprobs[k]));
  });
  assert.ok(worst <= BF16_TOLERANCE, `log-probs differ by ${worst}`);
});
