import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAdvantages, outcomeTokenRewards, reinforcePlusPlusAdvantages } from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertAllClose, assertClose, assertRaggedClose } from './helpers.ts';

// Group [1, 0, 0, 1]: mean 0.5, deviations ±0.5, Σd² = 1.
// Bessel std = sqrt(1/3) = 0.5773502691896258; population std = sqrt(1/4) = 0.5.
const besselStd = Math.sqrt(1 / 3);

test('grpo: (r − mean)/(Bessel std + eps) with the default eps 1e-6', () => {
  const a = groupAdvantages([1, 0, 0, 1], 4);
  const hi = 0.5 / (besselStd + 1e-6);
  assertAllClose(a, [hi, -hi, -hi, hi]);
  assertClose(hi, 0.8660239, 1e-6); // ≈ sqrt(3)/2
});

test('grpo: population std (ORZ) gives ±1 instead of ±0.866', () => {
  const a = groupAdvantages([1, 0, 0, 1], 4, { std: 'population', eps: 0 });
  assertAllClose(a, [1, -1, -1, 1]);
});

test('grpo: eps option (TRL 1e-4) changes the scale', () => {
  const a = groupAdvantages([1, 0, 0, 1], 4, { eps: 1e-4 });
  assertClose(a[0], 0.5 / (besselStd + 1e-4));
  assert.notEqual(a[0], groupAdvantages([1, 0, 0, 1], 4)[0]);
});

test('grpo: two groups are normalised independently; equal rewards give 0, not NaN', () => {
  // group 1: [2, 4] mean 3, Bessel std sqrt(2); group 2: [5, 5] std 0 → (5 − 5)/(0 + eps) = 0
  const a = groupAdvantages([2, 4, 5, 5], 2, { eps: 0.5 });
  const s = Math.SQRT2 + 0.5;
  assertAllClose(a, [-1 / s, 1 / s, 0, 0]);
});

test('group of size 1: zero by default (TRL), raw reward with singletonGroup "raw" (verl)', () => {
  assertAllClose(groupAdvantages([0.7, 1, 0], [1, 2]), [0, 0.5 / (Math.SQRT1_2 + 1e-6), -0.5 / (Math.SQRT1_2 + 1e-6)]);
  assertAllClose(groupAdvantages([0.7], 1, { singletonGroup: 'raw' }), [0.7]);
  assertAllClose(groupAdvantages([0.7, 0.2], 1), [0, 0]);
});

test('dr_grpo: centring only', () => {
  assertAllClose(groupAdvantages([3, 1, 2, 10], 4, { estimator: 'dr_grpo' }), [-1, -3, -2, 6]); // mean 4
});

test('rloo: r_i minus the mean of the other rewards', () => {
  // [3, 1, 2, 10]: others' means = 13/3, 5, 14/3, 2
  assertAllClose(groupAdvantages([3, 1, 2, 10], 4, { estimator: 'rloo' }), [3 - 13 / 3, 1 - 5, 2 - 14 / 3, 10 - 2]);
  // equals n/(n−1)·(r − mean) (verl's form)
  assertAllClose(
    groupAdvantages([3, 1, 2, 10], 4, { estimator: 'rloo' }),
    [-1, -3, -2, 6].map((d) => (d * 4) / 3),
  );
});

test('scale "batch" (TRL Lite-PPO): group-centred, divided by the std of the raw batch rewards', () => {
  const r = [1, 0, 3, 3];
  // group means 0.5, 3 → centred [0.5, −0.5, 0, 0]; batch mean 1.75, Σd² = 0.5625+3.0625+1.5625+1.5625 = 6.75, Bessel std = sqrt(2.25) = 1.5
  const a = groupAdvantages(r, 2, { scale: 'batch', eps: 0 });
  assertAllClose(a, [0.5 / 1.5, -0.5 / 1.5, 0, 0]);
});

test('reinforce_baseline: group mean removed, then whitened over the batch (per sequence or token-weighted)', () => {
  const r = [1, 0, 2, 0];
  // centred: [0.5, −0.5, 1, −1]; mean 0; Σd² = 2.5; sample var = 2.5/3
  const a = groupAdvantages(r, 2, { estimator: 'reinforce_baseline', eps: 0 });
  const s = Math.sqrt(2.5 / 3);
  assertAllClose(a, [0.5 / s, -0.5 / s, 1 / s, -1 / s]);
  // token-weighted (verl masked_whiten): lengths [3, 1, 1, 1] → 6 tokens: values 0.5×3, −0.5, 1, −1
  // mean = (1.5 − 0.5 + 1 − 1)/6 = 1/6; Σ w(x−μ)² = 3·(1/3)² + (2/3)² + (5/6)² + (7/6)² = 1/3 + 4/9 + 25/36 + 49/36 = 2.8333…; var = that/5
  const mu = 1 / 6;
  const v = (3 * (0.5 - mu) ** 2 + (-0.5 - mu) ** 2 + (1 - mu) ** 2 + (-1 - mu) ** 2) / 5;
  const w = groupAdvantages(r, 2, { estimator: 'reinforce_baseline', eps: 0, lengths: [3, 1, 1, 1] });
  assertAllClose(
    w,
    [0.5, -0.5, 1, -1].map((x) => (x - mu) / Math.sqrt(v)),
  );
  // scale "none": centring only (OpenRLHF no_std_norm)
  assertAllClose(groupAdvantages(r, 2, { estimator: 'reinforce_baseline', scale: 'none' }), [0.5, -0.5, 1, -1]);
});

test('variable group sizes (after GFPO filtering) and shape errors', () => {
  assertAllClose(groupAdvantages([1, 3, 0, 0, 6], [2, 3], { estimator: 'dr_grpo' }), [-1, 1, -2, -2, 4]);
  assert.throws(
    () => groupAdvantages([1, 2, 3], 2),
    (e: unknown) => e instanceof GrpoError && e.code === 'shape' && /does not divide/.test(e.message),
  );
  assert.throws(() => groupAdvantages([1, 2, 3], [2, 2]), GrpoError);
  assert.throws(
    () => groupAdvantages([1, Number.NaN], 2),
    (e: unknown) => e instanceof GrpoError && /finite/.test(e.message),
  );
  assert.throws(() => groupAdvantages([1, 2], 2, { estimator: 'nope' as 'grpo' }), GrpoError);
});

test('outcomeTokenRewards puts the score on the last token', () => {
  assert.deepEqual(outcomeTokenRewards([2, -1], [3, 1]), [[0, 0, 2], [-1]]);
  assert.throws(() => outcomeTokenRewards([1], [0]), GrpoError);
});

test('REINFORCE++: discounted returns-to-go, then whitened over all tokens', () => {
  // seq A rewards [0, 0, 1], γ = 0.5 → returns [0.25, 0.5, 1]; seq B [2] → [2]
  const { returns, advantages } = reinforcePlusPlusAdvantages([[0, 0, 1], [2]], { gamma: 0.5, eps: 0 });
  assertRaggedClose(returns, [[0.25, 0.5, 1], [2]]);
  const flat = [0.25, 0.5, 1, 2];
  const mu = 3.75 / 4;
  const sd = Math.sqrt(flat.reduce((a, x) => a + (x - mu) ** 2, 0) / 3);
  assertRaggedClose(advantages, [[0.25, 0.5, 1].map((x) => (x - mu) / sd), [(2 - mu) / sd]]);
  const raw = reinforcePlusPlusAdvantages([[0, 0, 1]], { whiten: false });
  assertRaggedClose(raw.advantages, [[1, 1, 1]]); // γ = 1 default
});
