/**
 * Where the references differ in a detail that only shows at the edges, each form as its reference computes it:
 * the variance floor of ORZ's and OpenRLHF's whitening against verl's eps inside the square root, and the clamp
 * OpenRLHF puts on each token's KL estimate. Expected numbers are worked out by hand below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whiten } from '../../src/algorithms/stats.ts';
import { gaeBatch } from '../../src/algorithms/gae.ts';
import { reinforcePlusPlusAdvantages } from '../../src/algorithms/advantages.ts';
import { klLoss, klPenalizedSequenceRewards, klPenalizedTokenRewards } from '../../src/algorithms/kl.ts';

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('whitening: rsqrt(max(var, 1e-8)) (ORZ, OpenRLHF) against 1/sqrt(var + 1e-8) (verl) on a variance far below eps', () => {
  // x = [1, 1 + 2e-5]: μ = 1 + 1e-5, population var = (1e-5)² = 1e-10
  const xs = [1, 1 + 2e-5];
  const floored = whiten(xs, { std: 'population', floor: true });
  // max(1e-10, 1e-8) = 1e-8 → scale 1e4: ∓1e-5 · 1e4 = ∓0.1
  close(floored[0], -0.1, 1e-6);
  close(floored[1], 0.1, 1e-6);
  const added = whiten(xs, { std: 'population' });
  // 1/sqrt(1e-10 + 1e-8) = 1/sqrt(1.01e-8) = 9950.37…
  close(added[1], 1e-5 / Math.sqrt(1.01e-8), 1e-6);
  // with a variance well above eps both forms agree to ~eps/var
  const wide = [0, 1, 2, 3];
  whiten(wide, { std: 'population', floor: true }).forEach((v, i) =>
    close(v, whiten(wide, { std: 'population' })[i], 1e-7),
  );
});

test("GAE and REINFORCE++ whiten with the floor for the population std, with eps added for Bessel's", () => {
  // one sequence, λ = γ = 1, values 0: A_t = R = the reward on the last token, for every t → constant advantages
  const rewards = [
    [0, 0, 1 + 1e-5],
    [0, 1],
  ];
  const values = rewards.map((r) => r.map(() => 0));
  const orz = gaeBatch(rewards, values, { gamma: 1, lambda: 1, whiten: 'population' }).advantages.flat();
  const flat = [1 + 1e-5, 1 + 1e-5, 1 + 1e-5, 1, 1];
  const mean = flat.reduce((a, b) => a + b, 0) / 5;
  const popVar = flat.reduce((a, b) => a + (b - mean) ** 2, 0) / 5; // 2.4e-11
  orz.forEach((a, k) => close(a, (flat[k] - mean) / Math.sqrt(1e-8), 1e-6));
  const verl = gaeBatch(rewards, values, { gamma: 1, lambda: 1, whiten: 'sample' }).advantages.flat();
  const sampleVar = (popVar * 5) / 4;
  verl.forEach((a, k) => close(a, (flat[k] - mean) / Math.sqrt(sampleVar + 1e-8), 1e-6));
  const rpp = reinforcePlusPlusAdvantages(rewards, { std: 'population' }).advantages.flat();
  rpp.forEach((a, k) => close(a, orz[k], 1e-9));
});

test("a KL clamp of 10 caps each token's estimate in the reward and in the loss (OpenRLHF compute_approx_kl)", () => {
  // Δ = logp − ref = 15 and 2 on two tokens; k1 estimates 15 → 10 and 2
  const logp = [[-1, -3]],
    ref = [[-16, -5]];
  assert.deepEqual(klPenalizedSequenceRewards([1], logp, ref, { beta: 0.1, kind: 'k1', clamp: 10 }), [
    1 - 0.1 * (10 + 2),
  ]);
  assert.deepEqual(klPenalizedSequenceRewards([1], logp, ref, { beta: 0.1, kind: 'k1' }), [1 - 0.1 * (15 + 2)]);
  const tokens = klPenalizedTokenRewards([[0, 1]], logp, ref, { beta: 0.1, kind: 'k1', clamp: 10 });
  close(tokens[0][0], -1);
  close(tokens[0][1], 1 - 0.2);
  // in the loss: the clamped token carries no gradient, the other k1's gradient β
  const k = klLoss({ logp, refLogp: ref, kind: 'k1', beta: 0.1, clamp: 10, aggregation: 'token-mean' });
  close(k.loss, (0.1 * 10 + 0.1 * 2) / 2);
  assert.deepEqual(k.dlogp, [[0, 0.1 / 2]]);
});

test("REINFORCE++-baseline with the KL in the reward: OpenRLHF's returns-to-go after the baseline, or verl's sum before it", async () => {
  const { advantageEstimators, methodOptions } = await import('../../src/algorithms/index.ts');
  // one group of two; outcome rewards 1 and 0; k1 penalties β·kl = 0.1, 0.2 on the first completion, 0.3 on the second
  const tokenRewards = [[-0.1, 1 - 0.2], [-0.3]];
  const input = {
    rewards: [0.7, -0.3],
    outcomeRewards: [1, 0],
    tokenRewards: () => tokenRewards,
    rewardsByFunc: [[1, 0]],
    rewardWeights: [1],
    groupSizes: [2],
    lengths: [2, 1],
  };
  const est = advantageEstimators.get('reinforce_baseline');
  // OpenRLHF: r − mean_g on the last token (−0.5): [−0.1, 0.3], [−0.8]; returns-to-go [0.2, 0.3], [−0.8];
  // population variance 0.74/3 around −0.1 → scale 1/sqrt(0.74/3)
  const openrlhf = est.compute(
    input,
    methodOptions(est, 'advantage estimator', { kl_returns: 'to_go', std: 'population' }),
  ).advantages;
  const s = 1 / Math.sqrt(0.74 / 3);
  [[0.3 * s, 0.4 * s], [-0.7 * s]].forEach((row, i) => row.forEach((v, t) => close(openrlhf[i][t], v, 1e-9)));
  // verl: scores 0.7 and −0.3, centred ±0.5, broadcast, token-weighted sample whitening: mean 1/6, var 1/3
  const verl = est.compute(input, methodOptions(est, 'advantage estimator', {})).advantages;
  const v = 1 / Math.sqrt(1 / 3 + 1e-8);
  [[v / 3, v / 3], [(-2 / 3) * v]].forEach((row, i) => row.forEach((x, t) => close(verl[i][t], x, 1e-9)));
});
