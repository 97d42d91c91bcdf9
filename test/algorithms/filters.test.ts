import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dynamicSamplingKeep,
  gfpoAdaptiveK,
  gfpoAdvantages,
  gfpoSelect,
  keptIndices,
  overlongFilterMask,
  softOverlongPunishment,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertAllClose, assertClose } from './helpers.ts';

test('DAPO dynamic sampling: drop groups whose rewards are all equal', () => {
  // groups: [1,1,1] all correct, [0,1,0] mixed, [0,0,0] all wrong, [0.5,0.5,0.5] equal non-binary
  const r = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0.5, 0.5, 0.5];
  assert.deepEqual(dynamicSamplingKeep(r, 3), [false, true, false, false]);
  assert.deepEqual(keptIndices([false, true, false, false], 3), [3, 4, 5]);
  // tolerance: nearly equal values count as equal
  assert.deepEqual(dynamicSamplingKeep([1, 1 + 1e-9], 2), [true]);
  assert.deepEqual(dynamicSamplingKeep([1, 1 + 1e-9], 2, { tolerance: 1e-6 }), [false]);
});

test('dynamic sampling "range" (OpenRLHF): keep when lo < mean < hi, strictly', () => {
  const r = [1, 1, 0, 1, 0, 0, 0.5, 0.5];
  assert.deepEqual(dynamicSamplingKeep(r, 2, { rule: 'range' }), [false, true, false, true]); // the equal 0.5 pair is kept here
  assert.deepEqual(dynamicSamplingKeep(r, 2, { rule: 'range', range: [0.6, 1] }), [false, false, false, false]);
  assert.deepEqual(keptIndices([true, false], [1, 3]), [0]);
  assert.throws(() => dynamicSamplingKeep([1, 2, 3], 2), GrpoError);
});

test('overlong filtering mask removes truncated completions token by token', () => {
  assert.deepEqual(overlongFilterMask([false, true, false], [2, 3, 1]), [[1, 1], [0, 0, 0], [1]]);
  assert.throws(() => overlongFilterMask([true], [1, 2]), GrpoError);
});

test('soft overlong punishment (DAPO Eq. 13): TRL example and boundaries', () => {
  assertClose(softOverlongPunishment(90, 100, 20), -0.5); // TRL docstring
  assert.equal(softOverlongPunishment(80, 100, 20), 0); // at L_max − L_cache: no penalty
  assertClose(softOverlongPunishment(81, 100, 20), -1 / 20);
  assertClose(softOverlongPunishment(100, 100, 20), -1);
  assert.equal(softOverlongPunishment(150, 100, 20), -1);
  assertClose(softOverlongPunishment(90, 100, 20, { factor: 0.5 }), -0.25);
  assert.equal(softOverlongPunishment(100, 100, 0), 0); // no cache: a hard step
  assert.equal(softOverlongPunishment(101, 100, 0), -1);
  assert.throws(() => softOverlongPunishment(10, 100, 200), GrpoError);
});

test('GFPO top-k by length (shortest) and by reward per token (highest)', () => {
  const rewards = [1, 1, 0, 1, 0, 1];
  const lengths = [10, 4, 2, 8, 5, 5];
  // group 0 (k = 2): shortest → idx 2 (len 2), idx 1 (len 4)
  // group 1 (size 2): ties at length 5 keep the earlier index
  assert.deepEqual(gfpoSelect({ rewards, lengths, groupSize: [4, 2], k: 2 }), {
    kept: [1, 2, 4, 5],
    groupSizes: [2, 2],
  });
  assert.deepEqual(gfpoSelect({ rewards, lengths, groupSize: [4, 2], k: [2, 1] }), {
    kept: [1, 2, 4],
    groupSizes: [2, 1],
  });
  // reward/length: 0.1, 0.25, 0, 0.125 → idx 1, 3
  assert.deepEqual(
    gfpoSelect({ rewards, lengths, groupSize: [4, 2], k: [2, 1], metric: 'reward_per_token' }).kept,
    [1, 3, 5],
  );
  assert.throws(() => gfpoSelect({ rewards, lengths, groupSize: [4, 2], k: 0 }), GrpoError);
});

test('GFPO advantages are GRPO over the kept completions only; filtered ones get 0 and keep 0', () => {
  const rewards = [1, 1, 0, 1];
  const lengths = [10, 4, 2, 8];
  const r = gfpoAdvantages({ rewards, lengths, groupSize: 4, k: 2, advantage: { estimator: 'dr_grpo' } });
  // kept idx 1 (r 1) and 2 (r 0): mean 0.5 → ±0.5
  assertAllClose(r.advantages, [0, 0.5, -0.5, 0]);
  assert.deepEqual(r.keep, [0, 1, 1, 0]);
  // default GRPO scaling over the kept pair: ±0.5/(std(1, 0) + 1e-6)
  const g = gfpoAdvantages({ rewards, lengths, groupSize: 4, k: 2 });
  assertClose(g.advantages[1], 0.5 / (Math.SQRT1_2 + 1e-6));
});

test('adaptive-difficulty k: harder groups (lower mean reward) keep more', () => {
  assert.equal(gfpoAdaptiveK(0.1, 16), 8);
  assert.equal(gfpoAdaptiveK(0.25, 16), 8); // an edge goes to the easier bucket: [0.25, 0.5) → 8
  assert.equal(gfpoAdaptiveK(0.5, 16), 6);
  assert.equal(gfpoAdaptiveK(0.74, 16), 6);
  assert.equal(gfpoAdaptiveK(0.75, 16), 4);
  assert.equal(gfpoAdaptiveK(1, 16), 4);
  assert.equal(gfpoAdaptiveK(0, 5), 5); // capped by the group size
  assert.equal(gfpoAdaptiveK(0.6, 16, { thresholds: [0.5], ks: [3, 1] }), 1);
  assert.throws(() => gfpoAdaptiveK(0.5, 16, { thresholds: [0.5], ks: [3] }), GrpoError);
  // end to end: a hard group (mean 0.25 → k 8) and an easy one (mean 0.875 → k 4), 8 samples each
  const hard = [1, 1, 0, 0, 0, 0, 0, 0];
  const easy = [1, 1, 1, 1, 1, 1, 1, 0];
  const lengths = Array.from({ length: 16 }, (_v, i) => 10 + i);
  const r = gfpoAdvantages({ rewards: [...hard, ...easy], lengths, groupSize: 8, k: 'adaptive' });
  assert.deepEqual(r.groupSizes, [8, 4]);
  assert.deepEqual(r.keep, [...new Array(8).fill(1), 1, 1, 1, 1, 0, 0, 0, 0]); // the 4 shortest of the easy group
});

test('dynamic sampling keeps a group of one, as verl does (its std is undefined, not zero)', () => {
  assert.deepEqual(dynamicSamplingKeep([1, 0.5, 0.5, 1], [1, 2, 1]), [true, false, true]);
});
