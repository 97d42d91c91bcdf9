/** The advantage stage wires the method's pieces in the right order; values worked out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAdvantages } from '../../src/trainer/advantage-stage.ts';
import { resolveAlgorithm } from '../../src/trainer/config/presets.ts';

const preset = (name: string, extra: Record<string, unknown> = {}) =>
  resolveAlgorithm({ preset: name, ...extra }, { groupSize: 2, maxTokens: 8 });

const close = (a: number[][], b: number[][], tol = 1e-9) =>
  a.forEach((row, i) =>
    row.forEach((x, t) => assert.ok(Math.abs(x - b[i][t]) <= tol, `[${i}][${t}] ${x} vs ${b[i][t]}`)),
  );

const oldLogp = [[-1, -2], [-1], [-0.5, -0.5, -0.5], [-3]];
const base = { rewardsByFunc: [[1, 0, 1, 0]], rewardWeights: [1], groupSizes: [2, 2], oldLogp };

test('GRPO: group-normalised outcome advantage broadcast to every token', () => {
  // groups [1, 0] and [1, 0]: mean 0.5, Bessel std √0.5 → ±0.5/(√0.5 + 1e-6)
  const a = 0.5 / (Math.SQRT1_2 + 1e-6);
  const out = computeAdvantages(preset('grpo', { kl_beta: 0 }), { ...base, rewards: [1, 0, 1, 0] });
  close(out.advantages, [[a, a], [-a], [a, a, a], [-a]]);
});

test('RLOO with k1 KL folded into the sequence reward before the baseline', () => {
  const refLogp = [[-1, -1], [-1], [-0.5, -0.5, -0.5], [-1]];
  // k1 per token = logp − ref: seq sums [0 + (−1), 0, 0, −2]; β = 0.5 → shaped [1 + 0.5, 0, 1, 0 + 1] = [1.5, 0, 1, 1]
  const out = computeAdvantages(preset('rloo', { kl_beta: 0.5 }), { ...base, rewards: [1, 0, 1, 0], refLogp });
  assert.deepEqual(out.shapedRewards, [1.5, 0, 1, 1]);
  // leave-one-out with pairs: A_i = r_i − r_other
  close(out.advantages, [[1.5, 1.5], [-1.5], [0, 0, 0], [0]]);
});

test("PPO: GAE with γ = λ = 1 gives A_t = R − V_t, then batch whitening with ORZ's population std", () => {
  const values = [[0.2, 0.4], [0.1], [0, 0, 0], [0.5]];
  const raw = preset('ppo', { whiten_advantages: false });
  const out = computeAdvantages(raw, { ...base, rewards: [1, 0, 1, 0], values });
  close(out.advantages, [[0.8, 0.6], [-0.1], [1, 1, 1], [-0.5]]);
  close(out.returns!, [[1, 1], [0], [1, 1, 1], [0]]);
  const flat = [0.8, 0.6, -0.1, 1, 1, 1, -0.5];
  const m = flat.reduce((a, b) => a + b) / flat.length;
  // ORZ normalize_advantages: population variance Σ(A − μ)²/N, (A − μ)·rsqrt(max(var, 1e-8))
  const sd = Math.sqrt(Math.max(flat.reduce((s, x) => s + (x - m) ** 2, 0) / flat.length, 1e-8));
  const w = computeAdvantages(preset('ppo'), { ...base, rewards: [1, 0, 1, 0], values });
  close(
    w.advantages,
    [[0.8, 0.6], [-0.1], [1, 1, 1], [-0.5]].map((r) => r.map((x) => (x - m) / sd)),
    1e-9,
  );
  // the Bessel std stays an option (verl masked_whiten)
  const bessel = computeAdvantages(preset('ppo', { std: 'bessel' }), { ...base, rewards: [1, 0, 1, 0], values });
  const sdB = Math.sqrt(flat.reduce((s, x) => s + (x - m) ** 2, 0) / (flat.length - 1) + 1e-8);
  close(
    bessel.advantages,
    [[0.8, 0.6], [-0.1], [1, 1, 1], [-0.5]].map((r) => r.map((x) => (x - m) / sdB)),
    1e-9,
  );
});

test('HICRA amplifies positive advantages on planning tokens only', () => {
  const out = computeAdvantages(preset('grpo', { kl_beta: 0, hicra_alpha: 0.5, hicra_grams: ['wait'] }), {
    ...base,
    rewards: [1, 0, 1, 0],
    tokenTexts: () => [['wait', ' ok'], [' wait'], ['a', 'b', 'c'], ['x']],
  });
  const a = 0.5 / (Math.SQRT1_2 + 1e-6);
  // A + α|A| on planning tokens: 1.5·a for a positive advantage, 0.5·(−a) for a negative one
  close(out.advantages, [[1.5 * a, a], [-0.5 * a], [a, a, a], [-a]]);
});
