import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregationNormalizer,
  clippedSurrogate,
  methodOptions,
  policyLosses,
  ppoClipLoss,
  type AggregationMode,
  type ImportanceLevel,
  type PolicyLossBatch,
  type PpoClipInput,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertClose, assertGradientMatchesFd, assertRaggedClose, splitAt } from './helpers.ts';

const MODES: AggregationMode[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];
const LEVELS: ImportanceLevel[] = ['token', 'sequence', 'sequence-token', 'sequence-sum'];

test('clipped surrogate by hand (ε_low 0.2, ε_high 0.28)', () => {
  // inside the range: −A·r, gradient −A
  assert.deepEqual(clippedSurrogate(1.1, 2, 0.2, 0.28), { loss: -2.2, dRatio: -2, clipped: false, dualClipped: false });
  // A > 0 above 1 + ε_high: max(−3, −2.56) = −2.56, flat
  const up = clippedSurrogate(1.5, 2, 0.2, 0.28);
  assertClose(up.loss, -2.56);
  assert.equal(up.dRatio, 0);
  assert.equal(up.clipped, true);
  // A > 0 below 1 − ε_low: the pessimistic unclipped branch wins, gradient flows
  assert.deepEqual(clippedSurrogate(0.7, 1, 0.2, 0.28), { loss: -0.7, dRatio: -1, clipped: false, dualClipped: false });
  // A < 0 below 1 − ε_low: max(0.7, 0.8) = 0.8, flat
  const down = clippedSurrogate(0.7, -1, 0.2, 0.28);
  assertClose(down.loss, 0.8);
  assert.equal(down.dRatio, 0);
});

test('clip-higher asymmetry: r = 1.25 is clipped with ε = 0.2 but not with ε_high = 0.28', () => {
  const sym = clippedSurrogate(1.25, 1, 0.2, 0.2);
  assertClose(sym.loss, -1.2);
  assert.equal(sym.dRatio, 0);
  const asym = clippedSurrogate(1.25, 1, 0.2, 0.28);
  assertClose(asym.loss, -1.25);
  assert.equal(asym.dRatio, -1);
  // the low side is unchanged by ε_high: r = 0.75, A = −1 → clipped at 0.8 in both
  assertClose(clippedSurrogate(0.75, -1, 0.2, 0.28).loss, 0.8);
});

test('dual-clip on negative advantages caps the loss at −A·c', () => {
  // r = 5, A = −1: plain PPO max(5, 1.28) = 5 with gradient 1; dual-clip c = 3 → 3, flat
  assert.deepEqual(clippedSurrogate(5, -1, 0.2, 0.28), { loss: 5, dRatio: 1, clipped: false, dualClipped: false });
  assert.deepEqual(clippedSurrogate(5, -1, 0.2, 0.28, 3), { loss: 3, dRatio: 0, clipped: false, dualClipped: true });
  // below c the dual clip is inactive
  assert.deepEqual(clippedSurrogate(2, -1, 0.2, 0.28, 3), { loss: 2, dRatio: 1, clipped: false, dualClipped: false });
  // positive advantages are untouched by c
  assertClose(clippedSurrogate(5, 1, 0.2, 0.28, 3).loss, -1.28);
});

// seq 0: log-ratios [ln 1.1, ln 1.5], A = 1; seq 1: log-ratio [ln 0.7], A = −1
const handOld = [[-1, -2], [-0.5]];
const handLogp = [[-1 + Math.log(1.1), -2 + Math.log(1.5)], [-0.5 + Math.log(0.7)]];
const handAdv = [1, -1];
const base = { epsLow: 0.2, epsHigh: 0.28 };

test('ppoClipLoss token level by hand', () => {
  // per-token losses: −1.1 (inside), −1.28 (clipped high), 0.8 (clipped low, A < 0)
  const tm = ppoClipLoss({
    ...base,
    logp: handLogp,
    oldLogp: handOld,
    advantages: handAdv,
    level: 'token',
    aggregation: 'token-mean',
  });
  assertClose(tm.loss, (-1.1 - 1.28 + 0.8) / 3);
  // only the unclipped token has a gradient: c·(−A)·r = (1/3)·(−1)·1.1
  assertRaggedClose(tm.dlogp, [[-1.1 / 3, 0], [0]]);
  assertClose(tm.stats!.clip_ratio, 2 / 3);
  const sm = ppoClipLoss({
    ...base,
    logp: handLogp,
    oldLogp: handOld,
    advantages: handAdv,
    level: 'token',
    aggregation: 'seq-mean-token-mean',
  });
  assertClose(sm.loss, ((-1.1 - 1.28) / 2 + 0.8) / 2);
  assertRaggedClose(sm.dlogp, [[-1.1 / 4, 0], [0]]);
});

test('GSPO sequence ratio is the geometric mean of the token ratios, and clips the whole sequence', () => {
  const old = [[-1, -2]];
  // token ratios e^0.1 and e^0.3 → s = sqrt(e^0.1·e^0.3) = e^0.2 ≈ 1.2214, inside [0.8, 1.28]
  const lp = [[-0.9, -1.7]];
  const s = Math.sqrt(Math.exp(0.1) * Math.exp(0.3));
  const r = ppoClipLoss({
    ...base,
    logp: lp,
    oldLogp: old,
    advantages: [1],
    level: 'sequence',
    aggregation: 'seq-mean-token-mean',
  });
  assertClose(r.loss, -s);
  // d(−s)/dlp_t = −s/L for each token
  assertRaggedClose(r.dlogp, [[-s / 2, -s / 2]]);
  // log-ratios [0.5, 0.1]: s = e^0.3 ≈ 1.35 > 1.28 → the whole sequence is clipped (no gradient), although
  // the second token's own ratio e^0.1 is inside the range and would get a gradient at token level
  const lp2 = [[-0.5, -1.9]];
  const seq = ppoClipLoss({
    ...base,
    logp: lp2,
    oldLogp: old,
    advantages: [1],
    level: 'sequence',
    aggregation: 'seq-mean-token-mean',
  });
  assertClose(seq.loss, -1.28);
  assertRaggedClose(seq.dlogp, [[0, 0]]);
  const tok = ppoClipLoss({
    ...base,
    logp: lp2,
    oldLogp: old,
    advantages: [1],
    level: 'token',
    aggregation: 'seq-mean-token-mean',
  });
  assert.ok(tok.dlogp[0][1] < 0);
});

test('GSPO and GSPO-token: same value, and same gradient when A is constant within each sequence', () => {
  const old = [
    [-1, -2, -0.3],
    [-1.2, -0.4],
  ];
  const lp = [
    [-0.95, -2.1, -0.28],
    [-1.15, -0.5],
  ];
  const args = { ...base, logp: lp, oldLogp: old, aggregation: 'seq-mean-token-mean' as const };
  const seq = ppoClipLoss({ ...args, advantages: [1.5, -0.7], level: 'sequence' });
  const st = ppoClipLoss({ ...args, advantages: [1.5, -0.7], level: 'sequence-token' });
  assertClose(seq.loss, st.loss);
  assertRaggedClose(seq.dlogp, st.dlogp, 1e-12);
  // with per-token advantages the two forms differ (the token form weights each token by its own A)
  const adv = [
    [1.5, -0.2, 0.4],
    [-0.7, 0.9],
  ];
  const seq2 = ppoClipLoss({ ...args, advantages: adv, level: 'sequence' });
  const st2 = ppoClipLoss({ ...args, advantages: adv, level: 'sequence-token' });
  assert.ok(Math.abs(seq2.dlogp[0][0] - st2.dlogp[0][0]) > 1e-3);
});

// A batch whose ratios sit away from every kink (0.8, 1.28, dual-clip 3) so finite differences are valid.
const lengths = [3, 1, 4, 2];
const logRatios = [[0.05, -0.5, 0.6], [-0.1], [0.15, 1.5, -0.3, 0.1], [0.35, -0.05]];
const oldLogp = lengths.map((l, i) => Array.from({ length: l }, (_v, t) => -0.5 - 0.3 * ((i + 2 * t) % 5)));
const logp = oldLogp.map((s, i) => s.map((o, t) => o + logRatios[i][t]));
const advTok = [[1.2, -0.8, 0.5], [-1.5], [0.7, -1.1, 2.0, -0.4], [-0.6, 1.3]];
const advSeq = [1.2, -1.5, -0.9, 0.6];
const weights = [[1, 0.5, 2], [1], [0.3, 1, 1, 0], [1.5, 1]];
const mask = [[1, 1, 0], [1], [1, 0, 1, 1], [0, 0]];

function checkAwayFromKinks(level: ImportanceLevel): void {
  const kinks = [Math.log(0.8), Math.log(1.28), Math.log(3)];
  const values = level === 'token' ? logRatios.flat() : logRatios.map((s) => s.reduce((a, b) => a + b, 0) / s.length);
  for (const v of values)
    for (const k of kinks) assert.ok(Math.abs(v - k) > 1e-3, `test point ${v} too close to kink ${k}`);
}

test('ppoClipLoss gradient matches finite differences: every level × aggregation, with dual-clip, weights and masks', () => {
  for (const level of LEVELS) {
    checkAwayFromKinks(level);
    for (const aggregation of MODES) {
      for (const variant of ['plain', 'dual', 'weights', 'mask', 'seqAdv'] as const) {
        const input = (x: number[][]): PpoClipInput => ({
          logp: x,
          oldLogp,
          advantages: variant === 'seqAdv' ? advSeq : advTok,
          ...base,
          level,
          aggregation,
          maxLength: 6,
          dualClipC: variant === 'dual' ? 3 : undefined,
          weights: variant === 'weights' ? weights : undefined,
          mask: variant === 'mask' ? mask : undefined,
          logpDetached: level === 'sequence-token' ? logp : undefined, // stop-gradient parts frozen at the base point
        });
        const { dlogp } = ppoClipLoss(input(logp));
        assertGradientMatchesFd(
          (x) => ppoClipLoss(input(x)).loss,
          dlogp,
          logp,
          1e-6,
          `${level}/${aggregation}/${variant}`,
        );
        if (variant === 'mask') {
          assert.equal(dlogp[0][2], 0);
          assert.deepEqual(dlogp[3], [0, 0]);
        }
      }
    }
  }
});

test('dual-clip zeroes the gradient of a negative-advantage token with r > c', () => {
  // token [2][1]: log-ratio 1.5 (r ≈ 4.48), A = −1.1
  const plain = ppoClipLoss({ ...base, logp, oldLogp, advantages: advTok, level: 'token', aggregation: 'token-mean' });
  const dual = ppoClipLoss({
    ...base,
    logp,
    oldLogp,
    advantages: advTok,
    level: 'token',
    aggregation: 'token-mean',
    dualClipC: 3,
  });
  assert.ok(plain.dlogp[2][1] > 0);
  assert.equal(dual.dlogp[2][1], 0);
  assertClose(plain.loss - dual.loss, (1.1 * Math.exp(1.5) - 1.1 * 3) / 10);
  assertClose(dual.stats!.dual_clip_ratio, 1 / 10);
});

test('ppoClipLoss is invariant to micro-batching with a whole-batch normalizer (every level × mode, masked too)', () => {
  for (const useMask of [false, true]) {
    const m = useMask ? mask : undefined;
    const normalizer = aggregationNormalizer(logp, m);
    for (const level of LEVELS) {
      for (const aggregation of MODES) {
        const args = { ...base, level, aggregation, maxLength: 6, dualClipC: 3 };
        const whole = ppoClipLoss({ ...args, logp, oldLogp, advantages: advTok, weights, mask: m });
        for (const cuts of [[1], [2, 3], [1, 2, 3]]) {
          const parts = splitAt(logp, cuts);
          const olds = splitAt(oldLogp, cuts);
          const advs = splitAt(advTok, cuts);
          const ws = splitAt(weights, cuts);
          const ms = m ? splitAt(m, cuts) : parts.map(() => undefined);
          let loss = 0;
          const grads: number[][] = [];
          parts.forEach((p, k) => {
            const r = ppoClipLoss({
              ...args,
              logp: p,
              oldLogp: olds[k],
              advantages: advs[k],
              weights: ws[k],
              mask: ms[k],
              normalizer,
            });
            loss += r.loss;
            grads.push(...r.dlogp);
          });
          assertClose(loss, whole.loss, 1e-12, `${level}/${aggregation}/${cuts}`);
          assertRaggedClose(grads, whole.dlogp, 1e-12, `${level}/${aggregation}/${cuts}`);
        }
      }
    }
  }
});

test('log-ratio clamp (verl 20): beyond it the ratio is frozen; Infinity disables it (TRL)', () => {
  const args = {
    ...base,
    oldLogp: [[-30]],
    logp: [[-5]],
    advantages: [-1],
    level: 'token' as const,
    aggregation: 'token-mean' as const,
  };
  const clamped = ppoClipLoss(args);
  assertClose(clamped.loss, Math.exp(20));
  assert.equal(clamped.dlogp[0][0], 0);
  const free = ppoClipLoss({ ...args, logRatioClamp: Infinity });
  assertClose(free.loss, Math.exp(25));
  assertClose(free.dlogp[0][0], Math.exp(25));
});

test('input validation names the problem', () => {
  const ok = {
    ...base,
    logp: [[-1]],
    oldLogp: [[-1]],
    advantages: [1],
    level: 'token' as const,
    aggregation: 'token-mean' as const,
  };
  assert.throws(
    () => ppoClipLoss({ ...ok, oldLogp: [[-1, -2]] }),
    (e: unknown) => e instanceof GrpoError && e.code === 'shape',
  );
  assert.throws(() => ppoClipLoss({ ...ok, advantages: [1, 2] }), GrpoError);
  assert.throws(() => ppoClipLoss({ ...ok, epsLow: 1 }), GrpoError);
  assert.throws(() => ppoClipLoss({ ...ok, dualClipC: 1 }), GrpoError);
  assert.throws(() => ppoClipLoss({ ...ok, level: 'word' as ImportanceLevel }), GrpoError);
  assert.throws(() => ppoClipLoss({ ...ok, aggregation: 'seq-mean-token-sum-norm' }), /maxLength/);
});

test('sequence-sum (TRL RLOO): one ratio exp(Σ_t lp − old) per completion, the loss a mean over completions', () => {
  // seq 0: ratio 1.05 · 1.1 = 1.155 inside [0.8, 1.2], A = 1 → −1.155; seq 1: ratio 0.9, A = −1 → 0.9
  const old = [[-1, -2], [-0.5]];
  const lp = [[-1 + Math.log(1.05), -2 + Math.log(1.1)], [-0.5 + Math.log(0.9)]];
  const r = ppoClipLoss({
    logp: lp,
    oldLogp: old,
    advantages: [1, -1],
    epsLow: 0.2,
    epsHigh: 0.2,
    level: 'sequence-sum',
    aggregation: 'seq-mean-token-mean',
  });
  assertClose(r.loss, (-1.155 + 0.9) / 2);
  // d/dlp_t of −A·r/N is −A·r/N on every token of the completion (d log r / d lp_t = 1)
  assertRaggedClose(r.dlogp, [[-1.155 / 2, -1.155 / 2], [0.9 / 2]]);
  // a per-token ratio (what the rloo preset used before) differs: token 1 of seq 0 alone would be 1.1, not 1.155
  const perToken = ppoClipLoss({
    logp: lp,
    oldLogp: old,
    advantages: [1, -1],
    epsLow: 0.2,
    epsHigh: 0.2,
    level: 'token',
    aggregation: 'seq-mean-token-mean',
  });
  assert.ok(Math.abs(perToken.loss - r.loss) > 1e-3);
  // past the clip (ratio 1.5 · 1.1 > 1.2 with A > 0) the completion gets no gradient
  const far = ppoClipLoss({
    logp: [[-1 + Math.log(1.5), -2 + Math.log(1.1)]],
    oldLogp: [[-1, -2]],
    advantages: [1],
    epsLow: 0.2,
    epsHigh: 0.2,
    level: 'sequence-sum',
    aggregation: 'seq-mean-token-mean',
  });
  assertClose(far.loss, -1.2);
  assert.deepEqual(far.dlogp, [[0, 0]]);
});

test('GSPO-token clamps the combined log-ratio once (verl): a sequence past the clamp gets no gradient', () => {
  // seq 0: mean log-ratio 12 > clamp 10; seq 1: mean log-ratio 0.5
  const old = [[-5, -5], [-1]];
  const lp = [[7, 7], [-0.5]];
  const args = {
    logp: lp,
    oldLogp: old,
    advantages: [-1, -1],
    epsLow: 0.2,
    epsHigh: 0.2,
    aggregation: 'token-mean' as const,
    logRatioClamp: 10,
  };
  const st = ppoClipLoss({ ...args, level: 'sequence-token' });
  assert.deepEqual(st.dlogp[0], [0, 0], 'clamped: no gradient, as torch.clamp(max=10) gives none');
  assert.ok(st.dlogp[1][0] !== 0, 'within the clamp the gradient flows');
  // the sequence level agrees: its whole ratio is clamped, so no gradient either
  assert.deepEqual(ppoClipLoss({ ...args, level: 'sequence' }).dlogp[0], [0, 0]);
  // the value is exp(10) for the clamped sequence: loss = (−A)·e^10 over its two tokens
  assertClose(st.loss, (2 * Math.exp(10) + Math.exp(0.5)) / 3, 1e-12);
});

test('GSPO clamps the log-ratio only from above (verl compute_policy_loss_gspo: torch.clamp(·, max=10.0))', () => {
  // one completion of two tokens, each 12 nats less likely than before: mean log-ratio −12, A = +1, ε 3e-4 / 4e-4.
  // s = e^−12 is below 1 − ε, and for A > 0 the unclipped branch max(−s, −0.9997) = −s wins, so
  //   loss = −e^−12 (seq-mean-token-mean of one sequence), and dℓ/dlp_t = −s·(1/2): the ratio's gradient s, times
  //   the aggregation weight 1/2 (GSPO-token), or ds/dlp_t = s/L with both token weights 1/2 summed (GSPO).
  // A symmetric clamp at ±10 would give −e^−10 and no gradient.
  const batch: PolicyLossBatch = {
    logp: [[-13, -13]],
    oldLogp: [[-1, -1]],
    advantages: [1],
    rewards: [1],
    groupSize: 1,
    aggregation: 'seq-mean-token-mean',
  };
  const s = Math.exp(-12);
  for (const name of ['gspo', 'gspo_token']) {
    const m = policyLosses.get(name);
    const r = m.loss(batch, methodOptions(m, 'policy loss', {}));
    assertClose(r.loss, -s, 1e-18, name);
    assertRaggedClose(r.dlogp, [[-s / 2, -s / 2]], 1e-18, name);
  }
  // the clamp still holds from above: a mean log-ratio of +12 is frozen at e^10 with A < 0 (−A·e^10, no gradient)
  const up = ppoClipLoss({
    logp: [[11]],
    oldLogp: [[-1]],
    advantages: [-1],
    epsLow: 3e-4,
    epsHigh: 4e-4,
    level: 'sequence',
    aggregation: 'token-mean',
    logRatioClamp: 10,
    logRatioClampSides: 'upper',
  });
  assertClose(up.loss, Math.exp(10));
  assert.deepEqual(up.dlogp, [[0]]);
  // PPO keeps verl vanilla's symmetric ±20
  const m = policyLosses.get('ppo');
  const low = m.loss({ ...batch, logp: [[-26]], oldLogp: [[-1]] }, methodOptions(m, 'policy loss', {}));
  assertClose(low.loss, -Math.exp(-20));
  assert.deepEqual(low.dlogp, [[0]]);
  assert.throws(
    () =>
      ppoClipLoss({
        logp: [[-1]],
        oldLogp: [[-1]],
        advantages: [1],
        epsLow: 0.2,
        epsHigh: 0.2,
        level: 'token',
        aggregation: 'token-mean',
        logRatioClampSides: 'lower' as never,
      }),
    GrpoError,
  );
});
