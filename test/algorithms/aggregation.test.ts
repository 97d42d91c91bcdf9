import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateLoss,
  aggregateWithGradient,
  aggregationNormalizer,
  aggregationWeights,
  type AggregationMode,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertClose, assertRaggedClose, pseudoRandomRagged, splitAt } from './helpers.ts';

const MODES: AggregationMode[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

test('each mode by hand on uneven lengths [[1, 2, 3], [4]]', () => {
  const x = [[1, 2, 3], [4]];
  assertClose(aggregateLoss('token-mean', x), 10 / 4); // DAPO: every token weighs the same
  assertClose(aggregateLoss('seq-mean-token-mean', x), (6 / 3 + 4 / 1) / 2); // GRPO: 3, the short sequence's token weighs 3×
  assertClose(aggregateLoss('seq-mean-token-sum', x), (6 + 4) / 2);
  assertClose(aggregateLoss('seq-mean-token-sum-norm', x, { maxLength: 8 }), 10 / (2 * 8)); // Dr. GRPO
});

test('token-mean and seq-mean-token-mean agree only when lengths are equal', () => {
  const even = [
    [1, 2],
    [3, 6],
  ];
  assertClose(aggregateLoss('token-mean', even), aggregateLoss('seq-mean-token-mean', even));
  assert.notEqual(
    aggregateLoss('token-mean', [[1, 2, 3], [4]]),
    aggregateLoss('seq-mean-token-mean', [[1, 2, 3], [4]]),
  );
});

test('a 0/1 mask removes tokens from the loss and from both counts (fully masked sequences are not counted)', () => {
  const x = [[1, 2, 3], [4]];
  const mask = [[1, 0, 1], [0]];
  assert.deepEqual(aggregationNormalizer(x, mask), { tokens: 2, sequences: 1 });
  assertClose(aggregateLoss('token-mean', x, { mask }), (1 + 3) / 2);
  assertClose(aggregateLoss('seq-mean-token-mean', x, { mask }), (1 + 3) / 2 / 1);
  assertClose(aggregateLoss('seq-mean-token-sum', x, { mask }), 4);
  assertClose(aggregateLoss('seq-mean-token-sum-norm', x, { mask, maxLength: 8 }), 4 / 8);
  assert.throws(() => aggregateLoss('token-mean', x, { mask: [[1, 0.5, 1], [0]] }), GrpoError);
  assert.throws(() => aggregateLoss('token-mean', x, { mask: [[1, 1], [0]] }), GrpoError);
});

test('weights are dLoss/dℓ: loss = Σ c·ℓ', () => {
  const c = aggregationWeights('seq-mean-token-mean', [3, 1]);
  assertRaggedClose(c, [[1 / 6, 1 / 6, 1 / 6], [1 / 2]]);
});

test('seq-mean-token-sum-norm requires a constant maxLength; unknown modes are errors', () => {
  assert.throws(
    () => aggregateLoss('seq-mean-token-sum-norm', [[1]]),
    (e: unknown) => e instanceof GrpoError && /maxLength/.test(e.message),
  );
  assert.throws(() => aggregateLoss('mean' as AggregationMode, [[1]]), GrpoError);
});

test('empty batch aggregates to 0, not NaN', () => {
  assert.equal(aggregateLoss('token-mean', []), 0);
  assert.equal(aggregateLoss('seq-mean-token-mean', [[]]), 0);
});

test('micro-batch invariance: summing micro-batches with the whole-batch normalizer equals the whole batch, every mode', () => {
  const lengths = [3, 1, 4, 2, 5, 1];
  const perToken = pseudoRandomRagged(lengths, 7, -2, 2);
  const dPerToken = pseudoRandomRagged(lengths, 8, -1, 1);
  const mask = lengths.map((l, i) => Array.from({ length: l }, (_v, t) => ((i + t) % 4 === 3 ? 0 : 1)));
  mask[1] = [0]; // one fully masked sequence
  for (const useMask of [false, true]) {
    const m = useMask ? mask : undefined;
    const normalizer = aggregationNormalizer(perToken, m);
    for (const mode of MODES) {
      const opts = { maxLength: 6, mask: m };
      const whole = aggregateWithGradient(mode, perToken, dPerToken, opts);
      for (const cuts of [[2], [1, 4], [1, 2, 3, 4, 5]]) {
        const parts = splitAt(perToken, cuts);
        const dParts = splitAt(dPerToken, cuts);
        const mParts = m ? splitAt(m, cuts) : parts.map(() => undefined);
        let loss = 0;
        const grads: number[][] = [];
        parts.forEach((p, k) => {
          const r = aggregateWithGradient(mode, p, dParts[k], { ...opts, mask: mParts[k], normalizer });
          loss += r.loss;
          grads.push(...r.dlogp);
        });
        assertClose(loss, whole.loss, 1e-12, `${mode} mask=${useMask} cuts=${cuts} loss`);
        assertRaggedClose(grads, whole.dlogp, 1e-12, `${mode} gradient`);
        // the same split without the whole-batch normalizer gives a different loss (the test can fail)
        let naive = 0;
        parts.forEach(
          (p, k) => (naive += aggregateWithGradient(mode, p, dParts[k], { ...opts, mask: mParts[k] }).loss),
        );
        assert.ok(Math.abs(naive - whole.loss) > 1e-6, `${mode}: local normalisers should differ from the whole batch`);
      }
    }
  }
});
