import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregationNormalizer,
  offPolicySequenceMask,
  rolloutCorrectionWeights,
  valueLoss,
  type AggregationMode,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertClose, assertGradientMatchesFd, assertRaggedClose, pseudoRandomRagged, splitAt } from './helpers.ts';

test('clipped value loss by hand (c = 0.2, token-mean)', () => {
  // t0: v = 1 inside [0.7, 1.1] → (1 − 1.5)² = 0.25, grad −0.5
  // t1: v = 2, v_clip = 1.2, R = 0 → max(4, 1.44) = 4, grad 2
  // t2: v = 1, old = 0 → v_clip = 0.2, R = 1 → max(0, 0.64) = 0.64 (clipped), grad 0
  const r = valueLoss({ values: [[1, 2], [1]], oldValues: [[0.9, 1], [0]], returns: [[1.5, 0], [1]], clipRange: 0.2 });
  assertClose(r.loss, (0.5 * (0.25 + 4 + 0.64)) / 3);
  assertRaggedClose(r.dvalues, [[-0.5 / 3, 2 / 3], [0]]);
  assertClose(r.stats.value_clip_ratio, 1 / 3);
  const plain = valueLoss({ values: [[1, 2], [1]], oldValues: [[0.9, 1], [0]], returns: [[1.5, 0], [1]] });
  assertClose(plain.loss, (0.5 * (0.25 + 4 + 0)) / 3);
});

test('value loss gradient matches finite differences and is micro-batch invariant, every aggregation', () => {
  const lengths = [3, 1, 4, 2];
  const values = pseudoRandomRagged(lengths, 51, -1, 1);
  const oldValues = values.map((s, i) => s.map((v, t) => v + [0.5, -0.05, 0.35, -0.6][(i + t) % 4])); // |v − old| ≠ c
  const returns = pseudoRandomRagged(lengths, 53, -1, 1);
  const modes: AggregationMode[] = [
    'token-mean',
    'seq-mean-token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-sum-norm',
  ];
  const normalizer = aggregationNormalizer(values);
  for (const aggregation of modes) {
    const args = { oldValues, returns, clipRange: 0.2, aggregation, maxLength: 5 };
    const whole = valueLoss({ ...args, values });
    assert.ok(whole.stats.value_clip_ratio > 0); // the clipped branch is exercised
    assertGradientMatchesFd((v) => valueLoss({ ...args, values: v }).loss, whole.dvalues, values, 1e-6, aggregation);
    const [va, vb] = splitAt(values, [2]);
    const a = valueLoss({
      ...args,
      values: va,
      oldValues: oldValues.slice(0, 2),
      returns: returns.slice(0, 2),
      normalizer,
    });
    const b = valueLoss({ ...args, values: vb, oldValues: oldValues.slice(2), returns: returns.slice(2), normalizer });
    assertClose(a.loss + b.loss, whole.loss, 1e-12);
    assertRaggedClose([...a.dvalues, ...b.dvalues], whole.dvalues, 1e-12);
  }
});

test('rollout correction, token level: TIS truncates, MIS masks', () => {
  const old = [[Math.log(0.5), Math.log(2), Math.log(4)]];
  const rollout = [[0, 0, 0]];
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { level: 'token', mode: 'truncate' }), [[0.5, 2, 3]]);
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { level: 'token', mode: 'mask' }), [[0.5, 2, 0]]);
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { level: 'token', mode: 'truncate', min: 0.6 }), [
    [0.6, 2, 3],
  ]);
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { level: 'token', mode: 'mask', min: 0.6, max: 5 }), [
    [0, 2, 4],
  ]);
});

test('rollout correction, sequence level: the product of token ratios (not the geometric mean), in log space', () => {
  const old = [
    [Math.log(1.5), Math.log(1.5)],
    [Math.log(0.5), Math.log(2), Math.log(4)],
  ];
  const rollout = [
    [0, 0],
    [0, 0, 0],
  ];
  // seq 0: 1.5·1.5 = 2.25 (geometric mean would be 1.5); seq 1: 0.5·2·4 = 4 > 3
  assertRaggedClose(rolloutCorrectionWeights(old, rollout), [
    [2.25, 2.25],
    [0, 0, 0],
  ]); // defaults: sequence, mask, C = 3
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { mode: 'truncate' }), [
    [2.25, 2.25],
    [3, 3, 3],
  ]);
  // a masked token leaves the product: seq 1 without its last token → 1
  const mask = [
    [1, 1],
    [1, 1, 0],
  ];
  assertRaggedClose(rolloutCorrectionWeights(old, rollout, { mask }), [
    [2.25, 2.25],
    [1, 1, 1],
  ]);
  // 1000 tokens of log-ratio 1: e^1000 overflows a float; the weight is still exact (0 masked, C truncated), never NaN
  const long = [new Array<number>(1000).fill(1)];
  const zeros = [new Array<number>(1000).fill(0)];
  assert.equal(rolloutCorrectionWeights(long, zeros)[0][0], 0);
  assert.equal(rolloutCorrectionWeights(long, zeros, { mode: 'truncate' })[0][999], 3);
  assert.throws(() => rolloutCorrectionWeights(old, rollout, { min: 4, max: 3 }), GrpoError);
});

test('off-policy sequence mask drops negative-advantage completions the policy has drifted from', () => {
  const logp = [
    [-1, -1],
    [-1, -1],
    [-1, -1],
  ];
  const sampling = [
    [-0.4, -0.4],
    [-0.4, -0.4],
    [-0.9, -0.9],
  ]; // mean(sampling − logp) = 0.6, 0.6, 0.1
  const m = offPolicySequenceMask({ logp, samplingLogp: sampling, advantages: [-1, 1, -1], threshold: 0.5 });
  assert.deepEqual(m, [
    [0, 0],
    [1, 1],
    [1, 1],
  ]);
  // per-token advantages: only the negative tokens of the drifted sequence go
  const t = offPolicySequenceMask({
    logp,
    samplingLogp: sampling,
    advantages: [
      [-1, 2],
      [1, 1],
      [-1, -1],
    ],
    threshold: 0.5,
  });
  assert.deepEqual(t, [
    [0, 1],
    [1, 1],
    [1, 1],
  ]);
});
