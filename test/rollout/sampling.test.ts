/**
 * Sampling: empirical token frequencies over many seeded draws match the intended distribution (chi-square
 * test at significance 0.001), with and without truncation; the two reported log-probs are exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleToken, sampleFromProbabilities, type SamplingParams } from '../../src/rollout/sampling.ts';
import { Rng } from '../../src/util/rng.ts';

const logits = Float32Array.from([2.0, 1.0, 0.5, 0.0, -1.0, -3.0]);

/** softmax(logits / T) written out directly */
function softmax(T: number): number[] {
  const e = [...logits].map((z) => Math.exp(z / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** chi-square critical values at p = 0.001 by degrees of freedom */
const CHI2_999: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52 };

function chiSquare(params: SamplingParams, expected: number[], draws = 40000, seed = 1): void {
  const rng = new Rng(seed);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, params, rng).token]++;
  let chi = 0,
    df = -1;
  expected.forEach((p, v) => {
    if (p === 0) {
      assert.equal(counts[v], 0, `token ${v} is truncated away but was drawn ${counts[v]} times`);
      return;
    }
    chi += (counts[v] - draws * p) ** 2 / (draws * p);
    df++;
  });
  assert.ok(chi < CHI2_999[df], `chi-square ${chi.toFixed(2)} ≥ ${CHI2_999[df]} (df ${df}); counts ${counts}`);
}

test('temperature 1 and 0.7 sample softmax(logits / T)', () => {
  chiSquare({ temperature: 1 }, softmax(1));
  chiSquare({ temperature: 0.7 }, softmax(0.7), 40000, 2);
});

test('top-k keeps the k most likely tokens, renormalised', () => {
  const p = softmax(1).slice(0, 3);
  const s = p.reduce((a, b) => a + b, 0);
  chiSquare({ temperature: 1, topK: 3 }, [...p.map((x) => x / s), 0, 0, 0]);
});

test('top-p keeps the smallest prefix reaching p', () => {
  const p = softmax(1); // ≈ [0.575, 0.211, 0.128, 0.078, 0.029, 0.004]
  // cumulative 0.575, 0.786, 0.914 → p = 0.8 keeps three tokens
  const s = p[0] + p[1] + p[2];
  chiSquare({ temperature: 1, topP: 0.8 }, [p[0] / s, p[1] / s, p[2] / s, 0, 0, 0]);
});

test('min-p keeps tokens with probability ≥ minP × the top one; top-k then top-p compose', () => {
  const p = softmax(1);
  // 0.2 × 0.575 = 0.115: keeps p[0], p[1], p[2] (0.128) and drops p[3] (0.078)
  const s = p[0] + p[1] + p[2];
  chiSquare({ temperature: 1, minP: 0.2 }, [p[0] / s, p[1] / s, p[2] / s, 0, 0, 0]);
  // top-k 4 then top-p 0.7: cumulative 0.575, 0.786 → two tokens
  chiSquare({ temperature: 1, topK: 4, topP: 0.7 }, [p[0] / (p[0] + p[1]), p[1] / (p[0] + p[1]), 0, 0, 0, 0]);
});

test('reported log-probs: policy at temperature T, and the truncated distribution actually sampled', () => {
  const rng = new Rng(3);
  for (let i = 0; i < 50; i++) {
    const t = sampleToken(logits, { temperature: 0.7, topP: 0.8 }, rng);
    const p = softmax(0.7);
    assert.ok(Math.abs(t.logprob - Math.log(p[t.token])) < 1e-6);
    // nucleus at T = 0.7: p ≈ [0.70, 0.17, 0.08, …] → cumulative 0.70, 0.87 → two tokens
    assert.ok(t.token <= 1);
    assert.ok(Math.abs(t.samplingLogprob - Math.log(p[t.token] / (p[0] + p[1]))) < 1e-6);
  }
});

test('greedy picks the arg-max and reports its log-prob at T = 1', () => {
  const t = sampleToken(logits, { temperature: 0 }, new Rng(0));
  assert.equal(t.token, 0);
  assert.ok(Math.abs(t.logprob - Math.log(softmax(1)[0])) < 1e-6);
  assert.equal(t.samplingLogprob, 0);
});

test('the candidate shortcut for large vocabularies gives the same nucleus as a full sort', () => {
  // a 50k vocabulary with a long tail: tokens 0..9 hold almost all mass
  const big = new Float32Array(50000).fill(-20);
  for (let i = 0; i < 10; i++) big[i] = 5 - i * 0.3;
  const draws = (p: SamplingParams) => {
    const rng = new Rng(7);
    return Array.from({ length: 2000 }, () => sampleToken(big, p, rng).token);
  };
  const nucleus = draws({ temperature: 1, topP: 0.95 });
  assert.ok(nucleus.every((t) => t < 10));
  // top-k beyond the near set forces the full-sort path, which must agree on the most likely tokens
  const k = draws({ temperature: 1, topK: 20, topP: 0.95 });
  assert.deepEqual(k, nucleus);
});

test('bad sampling parameters are one clear error', () => {
  assert.throws(() => sampleToken(logits, { temperature: -1 }, new Rng(0)), /temperature must be ≥ 0/);
});

test('sampling from the probabilities a decode graph computes draws the tokens and log-probs sampling from logits does', () => {
  for (const params of [
    { temperature: 1 },
    { temperature: 0.7, topP: 0.8 },
    { temperature: 1.3, topK: 3, minP: 0.05 },
    { temperature: 0 },
  ] as SamplingParams[]) {
    const probs = Float32Array.from(softmax(params.temperature || 1));
    const a = new Rng(5),
      b = new Rng(5);
    for (let i = 0; i < 200; i++) {
      const x = sampleToken(logits, params, a),
        y = sampleFromProbabilities(probs, params, b);
      assert.equal(y.token, x.token);
      assert.ok(Math.abs(y.logprob - x.logprob) < 1e-6 && Math.abs(y.samplingLogprob - x.samplingLogprob) < 1e-6);
    }
  }
});
