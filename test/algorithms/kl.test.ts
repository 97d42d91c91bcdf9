import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregationNormalizer,
  klEstimate,
  klGradient,
  klLoss,
  klPenalizedSequenceRewards,
  klPenalizedTokenRewards,
  type AggregationMode,
  type KlKind,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import {
  assertAllClose,
  assertClose,
  assertGradientMatchesFd,
  assertRaggedClose,
  pseudoRandomRagged,
} from './helpers.ts';

test('estimators by hand at logp = −1, ref = −1.5 (Δ = 0.5)', () => {
  assertClose(klEstimate('k1', -1, -1.5), 0.5);
  assertClose(klEstimate('k2', -1, -1.5), 0.125);
  assertClose(klEstimate('k3', -1, -1.5), Math.exp(-0.5) + 0.5 - 1); // 0.10653065971263342
  assertClose(klEstimate('k3', -1, -1.5), 0.10653065971263342);
  assertClose(klEstimate('k3+', -1, -1.5), 0.10653065971263342);
  assertClose(klEstimate('abs', -1.5, -1), 0.5);
  assert.equal(klEstimate('k3', -2, -2), 0); // every estimator is 0 at π = π_ref
  assert.ok(klEstimate('k3', -3, -1) > 0 && klEstimate('k1', -3, -1) < 0); // k3 ≥ 0, k1 can be negative
});

test('gradients: k1, k2, k3, abs match finite differences of their value; k3+ has k2 gradient', () => {
  for (const kind of ['k1', 'k2', 'k3', 'abs'] as KlKind[]) {
    for (const [lp, ref] of [
      [-1, -1.5],
      [-2, -0.3],
      [-0.2, -0.25],
    ]) {
      const h = 1e-6;
      const fd = (klEstimate(kind, lp + h, ref) - klEstimate(kind, lp - h, ref)) / (2 * h);
      assertClose(klGradient(kind, lp, ref), fd, 1e-7, `${kind} at ${lp},${ref}`);
    }
  }
  assertClose(klGradient('k3+', -2, -0.3), -1.7); // Δ = −1.7, k2's gradient
  assertClose(klGradient('k3', -2, -0.3), 1 - Math.exp(1.7)); // differs: k3's own gradient
  assert.throws(() => klEstimate('k4' as KlKind, 0, 0), GrpoError);
});

const lengths = [3, 1, 4];
const logp = pseudoRandomRagged(lengths, 11, -3, -0.1);
const ref = pseudoRandomRagged(lengths, 12, -3, -0.1);

test('klLoss (in-loss placement) by hand: β·token-mean(k3)', () => {
  const x = [[-1], [-2, -0.5]];
  const r = [[-1.5], [-1, -0.5]];
  const k3 = (d: number): number => Math.exp(-d) + d - 1;
  const { loss, dlogp, stats } = klLoss({ logp: x, refLogp: r, beta: 0.1 });
  assertClose(loss, (0.1 * (k3(0.5) + k3(-1) + 0)) / 3);
  assertRaggedClose(dlogp, [[(0.1 * (1 - Math.exp(-0.5))) / 3], [(0.1 * (1 - Math.exp(1))) / 3, 0]]);
  assertClose(stats!.kl, (k3(0.5) + k3(-1)) / 3);
});

test('klLoss gradient matches finite differences for every estimator and aggregation', () => {
  const modes: AggregationMode[] = [
    'token-mean',
    'seq-mean-token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-sum-norm',
  ];
  for (const kind of ['k1', 'k2', 'k3'] as KlKind[]) {
    for (const aggregation of modes) {
      const f = (x: number[][]): number =>
        klLoss({ logp: x, refLogp: ref, beta: 0.3, kind, aggregation, maxLength: 5 }).loss;
      const { dlogp } = klLoss({ logp, refLogp: ref, beta: 0.3, kind, aggregation, maxLength: 5 });
      assertGradientMatchesFd(f, dlogp, logp, 1e-6, `${kind}/${aggregation}`);
    }
  }
});

test("k3+: value is k3, gradient is k2's — FD of the straight-through surrogate with the stop-gradient part frozen", () => {
  const plain = klLoss({ logp, refLogp: ref, beta: 1, kind: 'k3' });
  const plus = klLoss({ logp, refLogp: ref, beta: 1, kind: 'k3+' });
  assertClose(plus.loss, plain.loss, 1e-12);
  const k2 = klLoss({ logp, refLogp: ref, beta: 1, kind: 'k2' });
  assertRaggedClose(plus.dlogp, k2.dlogp, 1e-12);
  const f = (x: number[][]): number => klLoss({ logp: x, refLogp: ref, beta: 1, kind: 'k3+', logpDetached: logp }).loss;
  assertGradientMatchesFd(f, plus.dlogp, logp);
});

test('klLoss clamp: value capped at ±clamp with zero gradient there (verl/OpenRLHF 10)', () => {
  const { loss, dlogp } = klLoss({
    logp: [[-10, -1]],
    refLogp: [[-1, -1.2]],
    beta: 1,
    kind: 'k3',
    clamp: 10,
    aggregation: 'seq-mean-token-sum',
  });
  // Δ = −9 → k3 = e^9 − 10 ≈ 8093 → clamped to 10; Δ = 0.2 → k3 = e^−0.2 − 0.8
  assertClose(loss, 10 + Math.exp(-0.2) - 0.8);
  assert.equal(dlogp[0][0], 0);
  assertClose(dlogp[0][1], 1 - Math.exp(-0.2));
});

test('klLoss is invariant to micro-batching with a whole-batch normalizer', () => {
  const normalizer = aggregationNormalizer(logp);
  const whole = klLoss({ logp, refLogp: ref, beta: 0.5, aggregation: 'token-mean' });
  const a = klLoss({ logp: logp.slice(0, 1), refLogp: ref.slice(0, 1), beta: 0.5, normalizer });
  const b = klLoss({ logp: logp.slice(1), refLogp: ref.slice(1), beta: 0.5, normalizer });
  assertClose(a.loss + b.loss, whole.loss);
  assertRaggedClose([...a.dlogp, ...b.dlogp], whole.dlogp);
});

test('in-reward placement: token-level r − β·k1 (default) and sequence-level r − β·Σ_t k1 (TRL RLOO)', () => {
  const rewards = [[0, 0, 1], [2]];
  const old = [[-1, -2, -0.5], [-1]];
  const r = [[-1.5, -2, -1], [-0.5]];
  assertRaggedClose(klPenalizedTokenRewards(rewards, old, r, { beta: 0.1 }), [[-0.05, 0, 1 - 0.05], [2 + 0.05]]);
  assertAllClose(klPenalizedSequenceRewards([1, 2], old, r, { beta: 0.1 }), [
    1 - 0.1 * (0.5 + 0 + 0.5),
    2 - 0.1 * -0.5,
  ]);
  const k3 = klPenalizedTokenRewards([[0]], [[-1]], [[-1.5]], { beta: 2, kind: 'k3' });
  assertClose(k3[0][0], -2 * (Math.exp(-0.5) - 0.5));
  assert.throws(() => klPenalizedSequenceRewards([1], old, r, { beta: 0.1 }), GrpoError);
});
