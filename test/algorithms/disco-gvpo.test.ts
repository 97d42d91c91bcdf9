import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  discoLoss,
  gvpoLoss,
  groupAdvantages,
  methodOptions,
  policyLosses,
  type PolicyLossBatch,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertClose, assertGradientMatchesFd, assertRaggedClose, pseudoRandomRagged } from './helpers.ts';

test('DisCO logL by hand: one group, 1 correct and 2 wrong, no KL excess', () => {
  const logp = [[-1, -3], [-1], [-2, -2, -5]]; // scores −2, −1, −3
  const { loss, dlogp, stats } = discoLoss({ logp, oldLogp: logp, rewards: [1, 0, 0], groupSize: 3 });
  // J = s_pos − τ·log mean(exp(s_neg/τ)), τ = 10 (logL default)
  const J = -2 - 10 * Math.log((Math.exp(-0.1) + Math.exp(-0.3)) / 2);
  assertClose(loss, -J);
  const w1 = Math.exp(-0.1) / (Math.exp(-0.1) + Math.exp(-0.3));
  // dLoss/ds: pos −1/P; neg softmax; ds/dlp = 1/L
  assertRaggedClose(dlogp, [[-0.5, -0.5], [w1], [(1 - w1) / 3, (1 - w1) / 3, (1 - w1) / 3]]);
  assert.equal(stats!.constraint_active, 0);
});

test('DisCO: the KL penalty (β/2)[KL − δ]₊² once KL exceeds δ; groups without contrast are dropped but counted in Q', () => {
  const logp = [[-1, -3], [-1], [-2], [-2]];
  const oldLogp = logp.map((s) => s.map((x) => x + 0.05)); // k1 KL = mean(old − lp) = 0.05
  const r = discoLoss({ logp, oldLogp, rewards: [1, 0, 1, 1], groupSize: 2 }); // group 2 is all correct → dropped
  const J = -2 - 10 * Math.log(Math.exp(-0.1)); // one negative: τ·log exp(s/τ) = s
  const excess = 0.05 - 1e-4;
  assertClose(r.loss, -J / 2 + 0.5 * 1e3 * excess * excess, 1e-10);
  assert.equal(r.stats!.valid_groups, 1);
  // the penalty gradient β·excess·(−1/T) lands on every token, including the dropped group's
  assertClose(r.dlogp[2][0], (1e3 * excess * -1) / 5, 1e-10);
  assertClose(r.dlogp[1][0], 1 / 2 + (1e3 * excess * -1) / 5, 1e-10);
});

test('DisCO gradient matches finite differences: logL / Lratio × k1 / k3, with a mask', () => {
  const lengths = [3, 1, 2, 4, 2, 3, 1, 2, 2];
  const logp = pseudoRandomRagged(lengths, 21, -2.5, -0.2);
  const oldLogp = pseudoRandomRagged(lengths, 22, -2.5, -0.2);
  const rewards = [1, 0, 0, 1, 1, 0, 0, 0, 0]; // third group all wrong
  const mask = lengths.map((l, i) => Array.from({ length: l }, (_v, t) => (i === 3 && t === 1 ? 0 : 1)));
  for (const score of ['logL', 'Lratio'] as const) {
    for (const klKind of ['k1', 'k3'] as const) {
      for (const m of [undefined, mask]) {
        const f = (x: number[][]): number =>
          discoLoss({ logp: x, oldLogp, rewards, groupSize: 3, score, klKind, mask: m }).loss;
        const res = discoLoss({ logp, oldLogp, rewards, groupSize: 3, score, klKind, mask: m });
        assert.equal(res.stats!.constraint_active, 1); // random old/new differ → the penalty is on and tested too
        assertGradientMatchesFd(f, res.dlogp, logp, 1e-6, `${score}/${klKind}`);
      }
    }
  }
});

test('DisCO Lratio score is mean_t exp(lp − old); non-binary rewards need positiveThreshold', () => {
  const old = [[-1, -1], [-1]];
  const logp = [[-0.9, -1.2], [-1]]; // s0 = (e^0.1 + e^−0.2)/2, s1 = 1
  const r = discoLoss({ logp, oldLogp: old, rewards: [1, 0], groupSize: 2, score: 'Lratio', beta: 0 });
  // τ = 1 (Lratio default), one negative → J = s0 − s1
  assertClose(r.loss, -((Math.exp(0.1) + Math.exp(-0.2)) / 2 - 1));
  assert.throws(() => discoLoss({ logp, oldLogp: old, rewards: [0.9, 0.1], groupSize: 2 }), GrpoError);
  const t = discoLoss({
    logp,
    oldLogp: old,
    rewards: [0.9, 0.1],
    groupSize: 2,
    score: 'Lratio',
    beta: 0,
    positiveThreshold: 0.5,
  });
  assertClose(t.loss, r.loss);
});

test("DisCO splits a group by the correctness reward (the reference's binary reward), not by the summed reward", () => {
  // a right answer with a format penalty (1 − 0.6 = 0.4) and a wrong one with a format bonus (0 + 0.6): scores −2, −4
  const logp = [[-1, -3], [-4]];
  const batch: PolicyLossBatch = {
    logp,
    oldLogp: logp,
    advantages: [0, 0],
    rewards: [0.4, 0.6],
    correct: [1, 0],
    groupSize: 2,
    aggregation: 'token-mean',
  };
  const disco = policyLosses.get('disco');
  const lossWith = (o: Record<string, unknown>, b = batch) => disco.loss(b, methodOptions(disco, 'policy loss', o));
  // one right, one wrong: J = s_right − τ·log exp(s_wrong/τ) = −2 − (−4) = 2; KL 0 (old = new); ds/dlp_t = 1/L
  const r = lossWith({});
  assertClose(r.loss, -2);
  assertRaggedClose(r.dlogp, [[-0.5, -0.5], [1]]);
  // the summed reward over 0.5 (disco_metric: reward) swaps them: J = −4 − (−2)
  const bySum = lossWith({ disco_metric: 'reward' });
  assertClose(bySum.loss, 2);
  assertRaggedClose(bySum.dlogp, [[0.5, 0.5], [-1]]);
  assert.equal(disco.needsCorrectness?.(methodOptions(disco, 'policy loss', {})) !== undefined, true);
  assert.equal(disco.needsCorrectness?.(methodOptions(disco, 'policy loss', { disco_metric: 'reward' })), undefined);
  assert.throws(
    () => lossWith({}, { ...batch, correct: undefined }),
    (e: unknown) => e instanceof GrpoError && /disco_metric: reward/.test(e.message),
  );
});

test('GVPO by hand: ½·[(R − mean sg R) − adv]²/(n − 1), R = β·Σ(lp − old)', () => {
  const logp = [[-1, -1], [-3]];
  const old = [[0, 0], [0]];
  // R = [−0.2, −0.3], mean −0.25; adv = [0.5, −0.5] → diffs [−0.45, 0.45]
  const adv = groupAdvantages([1, 0], 2, { estimator: 'dr_grpo' });
  const { loss, dlogp } = gvpoLoss({ logp, oldLogp: old, advantages: adv, groupSize: 2 });
  assertClose(loss, 0.5 * (0.45 ** 2 + 0.45 ** 2));
  assertRaggedClose(dlogp, [[-0.045, -0.045], [0.045]]);
});

test('GVPO gradient matches finite differences with the stop-gradient group mean frozen', () => {
  const lengths = [2, 3, 1, 4, 2, 2];
  const logp = pseudoRandomRagged(lengths, 31, -2, -0.1);
  const oldLogp = pseudoRandomRagged(lengths, 32, -2, -0.1);
  const adv = [0.7, -0.2, 0.3, 1.0, -0.4, 0.1]; // deliberately not group-centred
  const mask = lengths.map((l) => Array.from({ length: l }, (_v, t) => (t === 1 ? 0 : 1)));
  for (const m of [undefined, mask]) {
    const res = gvpoLoss({ logp, oldLogp, advantages: adv, groupSize: 3, beta: 0.5, mask: m });
    const frozen = (x: number[][]): number =>
      gvpoLoss({ logp: x, oldLogp, advantages: adv, groupSize: 3, beta: 0.5, mask: m, logpDetached: logp }).loss;
    assertGradientMatchesFd(frozen, res.dlogp, logp);
    // the group mean really is a stop-gradient: differentiating through it gives another gradient here
    const through = (x: number[][]): number =>
      gvpoLoss({ logp: x, oldLogp, advantages: adv, groupSize: 3, beta: 0.5, mask: m }).loss;
    assert.throws(() => assertGradientMatchesFd(through, res.dlogp, logp));
  }
});

test('GVPO: summing over group-aligned micro-batches equals the whole batch; a group of one is an error', () => {
  const lengths = [2, 3, 1, 4];
  const logp = pseudoRandomRagged(lengths, 41, -2, -0.1);
  const oldLogp = pseudoRandomRagged(lengths, 42, -2, -0.1);
  const adv = [0.5, -0.5, 1, -1];
  const whole = gvpoLoss({ logp, oldLogp, advantages: adv, groupSize: 2 });
  const a = gvpoLoss({
    logp: logp.slice(0, 2),
    oldLogp: oldLogp.slice(0, 2),
    advantages: adv.slice(0, 2),
    groupSize: 2,
  });
  const b = gvpoLoss({ logp: logp.slice(2), oldLogp: oldLogp.slice(2), advantages: adv.slice(2), groupSize: 2 });
  assertClose(a.loss + b.loss, whole.loss);
  assertRaggedClose([...a.dlogp, ...b.dlogp], whole.dlogp);
  assert.throws(() => gvpoLoss({ logp, oldLogp, advantages: adv, groupSize: 1 }), GrpoError);
});
