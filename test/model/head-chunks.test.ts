/**
 * The log-prob head processes the vocabulary-sized tensors a chunk of tokens at a time (forward, and again in the
 * backward, which recomputes the chunk's logits). Chunking is a memory bound only: log-probs, entropy and every
 * gradient equal those of one chunk over the whole batch, including chunks that do not divide the token count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { tokenChunks, VOCAB_CHUNK_ELEMENTS } from '../../src/model/pieces/token-head.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';

test('chunks cover the tokens once; the default holds ≤ VOCAB_CHUNK_ELEMENTS per tensor in multiples of 32 tokens', () => {
  assert.deepEqual(tokenChunks(10, 5, 4), [[0, 4], [4, 4], [8, 2]]);
  const qwen = tokenChunks(1280, 151936);
  assert.equal(qwen[0][1] % 32, 0);
  assert.ok(qwen[0][1] * 151936 <= VOCAB_CHUNK_ELEMENTS);
  assert.equal(qwen.reduce((n, [, c]) => n + c, 0), 1280);
  assert.deepEqual(tokenChunks(64, 512), [[0, 64]]);
});

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`a chunked head gives the unchunked log-probs, entropy and gradients: ${label}`, () => {
    const run = (headChunkTokens?: number) => {
      const model = new LlamaModel(config, { threads: 1, headChunkTokens, valueHead: true });
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
    const whole = run(), chunked = run(7);
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      let scale = 0;
      for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + scale), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    whole.pass.logp.forEach((x, i) => close(x, chunked.pass.logp[i], `logp ${i}`));
    whole.pass.entropy!.forEach((x, i) => close(x, chunked.pass.entropy![i], `entropy ${i}`));
    whole.grads.forEach((g, i) => close(g, chunked.grads[i], `gradient of parameter ${i}`));
  });
}
