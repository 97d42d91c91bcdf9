import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smooth } from '../../src/dashboard/client/smoothing.ts';

const close = (got: (number | null)[], want: (number | null)[]) => {
  assert.equal(got.length, want.length);
  got.forEach((g, i) =>
    want[i] === null ? assert.equal(g, null) : assert.ok(Math.abs(g! - want[i]!) < 1e-12, `${i}: ${g} vs ${want[i]}`),
  );
};

test('debiased EMA equals the normalised weighted mean of the points so far (weights w^age)', () => {
  // n=2: (0.5·1 + 1·2) / 1.5 = 5/3; n=3: (0.25·1 + 0.5·2 + 1·3) / 1.75 = 17/7
  close(smooth([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7]);
  // weight 0.9, two points: (0.9·10 + 1·0) / 1.9
  close(smooth([10, 0], 0.9), [10, 9 / 1.9]);
});

test('missing values pass through and do not enter the average; weight 0 and constant series are unchanged', () => {
  close(smooth([1, null, 3], 0.5), [1, null, (0.5 * 1 + 3) / 1.5]);
  close(
    smooth([1, NaN, 3], 0.5).map((v) => (Number.isNaN(v) ? null : v)),
    [1, null, 7 / 3],
  );
  assert.deepEqual(smooth([0.1, 0.1, 0.1], 0.99), [0.1, 0.1, 0.1]);
  assert.deepEqual(smooth([1, 5, 2], 0), [1, 5, 2]);
});
