import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gae, gaeBatch, gdpoAdvantages, groupAdvantages } from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertAllClose, assertRaggedClose } from './helpers.ts';

test('GDPO: per-reward group normalisation, weighted sum, then per-sequence batch normalisation', () => {
  // correctness r0 and format r1, 2 groups of 2, weights [1, 2], eps 1e-4 (NVlabs default)
  const r0 = [1, 0, 1, 1];
  const r1 = [0, 1, 1, 0];
  const e = 1e-4;
  const s = Math.SQRT1_2; // Bessel std of a pair {a, b} is |a − b|/√2
  // r0: group1 → ±0.5/(s+e); group2 all equal → 0.  r1: group1 → ∓0.5/(s+e); group2 → ±0.5/(s+e)
  const h = 0.5 / (s + e);
  const sum = [h - 2 * h, -h + 2 * h, 2 * h, -2 * h]; // [−h, h, 2h, −2h]
  const mu = 0;
  const sd = Math.sqrt(sum.reduce((a, x) => a + (x - mu) ** 2, 0) / 3);
  const got = gdpoAdvantages([r0, r1], 2, { weights: [1, 2] });
  assertAllClose(
    got,
    sum.map((x) => (x - mu) / (sd + e)),
    1e-12,
  );
  // Decoupling matters: GRPO on the summed reward r0 + 2·r1 = [1, 2, 3, 2] ranks differently
  const grpo = groupAdvantages([1, 2, 3, 2], 2);
  assert.ok(Math.sign(grpo[2]) === Math.sign(got[2]) && Math.abs(grpo[0] - got[0]) > 0.1);
});

test('GDPO: token-weighted batch normalisation (verl) differs from per-sequence (TRL/NVlabs)', () => {
  const r0 = [1, 0, 1, 0];
  const lengths = [10, 1, 1, 1];
  const perSeq = gdpoAdvantages([r0], 2);
  const perTok = gdpoAdvantages([r0], 2, { batchNorm: 'token', lengths });
  // A_sum = [h, −h, h, −h]; token-weighted mean = (10h − h + h − h)/13 = 9h/13
  const h = 0.5 / (Math.SQRT1_2 + 1e-4);
  const x = [h, -h, h, -h];
  const mu = (9 * h) / 13;
  const v = x.reduce((a, xi, i) => a + lengths[i] * (xi - mu) ** 2, 0) / 12;
  assertAllClose(
    perTok,
    x.map((xi) => (xi - mu) / Math.sqrt(v + 1e-8)),
  );
  assert.ok(Math.abs(perSeq[0] - perTok[0]) > 0.1);
  assert.throws(() => gdpoAdvantages([r0], 2, { batchNorm: 'token' }), GrpoError);
  assert.throws(() => gdpoAdvantages([r0, [1, 2]], 2), GrpoError);
  assert.throws(() => gdpoAdvantages([r0], 2, { weights: [1, 1] }), GrpoError);
});

test('GAE by hand (γ = 0.9, λ = 0.8)', () => {
  // t=2: δ = 1 − 0.8 = 0.2 → A = 0.2
  // t=1: δ = 0.9·0.8 − 0.2 = 0.52 → A = 0.52 + 0.72·0.2 = 0.664
  // t=0: δ = 0.9·0.2 − 0.5 = −0.32 → A = −0.32 + 0.72·0.664 = 0.15808
  const { advantages, returns } = gae([0, 0, 1], [0.5, 0.2, 0.8], { gamma: 0.9, lambda: 0.8 });
  assertAllClose(advantages, [0.15808, 0.664, 0.2], 1e-12);
  assertAllClose(returns, [0.65808, 0.864, 1.0], 1e-12);
});

test('GAE with γ = λ = 1 (ORZ): A_t = R − V_t and returns = R', () => {
  const { advantages, returns } = gae([0, 0, 1], [0.5, 0.2, 0.8], { gamma: 1, lambda: 1 });
  assertAllClose(advantages, [0.5, 0.8, 0.2]);
  assertAllClose(returns, [1, 1, 1]);
  assert.throws(() => gae([1], [1, 2], { gamma: 1, lambda: 1 }), GrpoError);
});

test('gaeBatch whitening: sample (verl) vs population (ORZ) vs none', () => {
  const rewards = [[0, 1], [2]];
  const values = [[0, 0], [0]];
  // γ = λ = 1, V = 0 → raw advantages [[1, 1], [2]], returns the same
  const raw = gaeBatch(rewards, values, { gamma: 1, lambda: 1, whiten: false });
  assertRaggedClose(raw.advantages, [[1, 1], [2]]);
  const mu = 4 / 3;
  const ss = 2 * (1 - mu) ** 2 + (2 - mu) ** 2; // 2/3
  const sample = gaeBatch(rewards, values, { gamma: 1, lambda: 1, eps: 0 });
  const sdS = Math.sqrt(ss / 2);
  assertRaggedClose(sample.advantages, [[(1 - mu) / sdS, (1 - mu) / sdS], [(2 - mu) / sdS]]);
  const pop = gaeBatch(rewards, values, { gamma: 1, lambda: 1, eps: 0, whiten: 'population' });
  const sdP = Math.sqrt(ss / 3);
  assertRaggedClose(pop.advantages, [[(1 - mu) / sdP, (1 - mu) / sdP], [(2 - mu) / sdP]]);
  assertRaggedClose(sample.returns, [[1, 1], [2]]); // returns stay unwhitened
  assert.throws(() => gaeBatch([[1, 2]], [[1]], { gamma: 1, lambda: 1 }), GrpoError);
});
