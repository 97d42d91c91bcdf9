/**
 * The log-prob head never holds a whole [vocab × tokens] f32 tensor: the forward runs chunks of tokens; the backward
 * reads the probabilities the forward kept, or — beyond the keep budget — recomputes the logits in chunks of the
 * vocabulary. Chunking and keeping are memory choices only: log-probs, entropy and every gradient equal those of one
 * chunk over the whole batch, including a last chunk that is shorter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { tokenChunks, vocabChunks, VOCAB_CHUNK_ELEMENTS } from '../../src/model/pieces/token-head.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';

test('chunks cover tokens and vocabulary once, ≤ VOCAB_CHUNK_ELEMENTS per tensor, in multiples of 32', () => {
  assert.deepEqual(tokenChunks(80, 5, 1), [
    [0, 32],
    [32, 32],
    [64, 16],
  ]);
  for (const [chunks, width, total] of [
    [tokenChunks(1280, 151936), 151936, 1280],
    [vocabChunks(151936, 1280), 1280, 151936],
  ] as const) {
    assert.equal(chunks[0][1] % 32, 0);
    assert.ok(chunks[0][1] * width <= VOCAB_CHUNK_ELEMENTS);
    assert.equal(
      chunks.reduce((n, [, c]) => n + c, 0),
      total,
    );
  }
  assert.deepEqual(tokenChunks(64, 512), [[0, 64]]);
  assert.deepEqual(vocabChunks(512, 64), [[0, 512]]);
});

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`a chunked head gives the unchunked log-probs, entropy and gradients: ${label}`, () => {
    const run = (headChunkElements?: number, headKeepBytes?: number) => {
      const model = new LlamaModel(config, { threads: 1, headChunkElements, headKeepBytes, valueHead: true });
      try {
        const opt = model.createOptimizer();
        model.weights.load(randomizeWeights(model.weights.save(), 3, 0.2));
        const rng = new Rng(4);
        const seqs = randomSequences(rng, [17, 9, 23], config.vocabSize);
        const coef = () => seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
        // temperature ≠ 1 so the 1/τ factors are covered too
        const pass = model.forward(seqs, { grad: true, entropy: true, temperature: 0.7 });
        pass.backward({ logp: coef(), values: coef(), entropy: coef() });
        return { pass, grads: model.weights.parameters.map((t) => opt.gradOf(t).readF32()) };
      } finally {
        model.free();
      }
    };
    // 1 element: the smallest chunks, 32 tokens and 32 vocabulary entries (37 = 32 + a short one)
    const whole = run(),
      chunked = run(1),
      recomputed = run(undefined, 0),
      recomputedChunks = run(1, 0);
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      let scale = 0;
      for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
      for (let i = 0; i < a.length; i++)
        assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + scale), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    for (const [label, other] of [
      ['chunked', chunked],
      ['recomputed', recomputed],
      ['recomputed in chunks', recomputedChunks],
    ] as const) {
      whole.pass.logp.forEach((x, i) => close(x, other.pass.logp[i], `${label}: logp ${i}`));
      whole.pass.entropy!.forEach((x, i) => close(x, other.pass.entropy![i], `${label}: entropy ${i}`));
      whole.grads.forEach((g, i) => close(g, other.grads[i], `${label}: gradient of parameter ${i}`));
    }
  });
}
