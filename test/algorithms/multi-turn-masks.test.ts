// Multi-turn credit: tokens an environment inserted are context. Under a 0/1 mask they get zero gradient under
// every loss, and their log-probs, old log-probs and advantages never enter a ratio, a KL or a count — each
// masked loss equals the same loss on the sequences with the inserted tokens removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregationWeights,
  klLoss,
  policyLosses,
  scatterMasked,
  selectMasked,
  valueLoss,
  type PolicyLossBatch,
  type Ragged,
} from '../../src/algorithms/index.ts';
import { Rng } from '../../src/util/rng.ts';

const rng = new Rng(17);
const lengths = [7, 5, 9, 6];
// 1 = sampled by the model, 0 = inserted by the environment (a tool response mid-episode)
const mask: Ragged = [
  [1, 1, 0, 0, 0, 1, 1],
  [1, 1, 1, 1, 1],
  [1, 0, 0, 1, 1, 0, 1, 1, 1],
  [1, 1, 1, 0, 0, 1],
];
const draw = (scale: number, shift = 0): Ragged =>
  lengths.map((n) => Array.from({ length: n }, () => shift + scale * rng.normal()));
const logp = draw(0.3, -1),
  oldLogp = logp.map((r) => r.map((x) => x + 0.1 * rng.normal())),
  refLogp = draw(0.3, -1);
const advantages = draw(1),
  values = draw(1),
  oldValues = draw(1),
  returns = draw(1);
const rewards = [1, 0, 0, 1];
// junk on the inserted tokens: it must change nothing
const junk = (x: Ragged) => x.map((r, i) => r.map((v, t) => (mask[i][t] ? v : v + 5 * rng.normal() + 3)));
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${what}: ${a} vs ${b}`);

test('selectMasked / scatterMasked drop inserted tokens and put values back in their places', () => {
  assert.deepEqual(selectMasked([[1, 2, 3, 4]], [[1, 0, 0, 1]]), [[1, 4]]);
  assert.deepEqual(scatterMasked([[1, 4]], [[1, 0, 0, 1]], 9), [[1, 9, 9, 4]]);
  assert.throws(() => scatterMasked([[1]], [[1, 0, 1]]), /1 values for 2 masked-in tokens/);
});

for (const name of policyLosses.names()) {
  test(`policy loss ${name}: inserted tokens get zero gradient and leave the loss as if absent`, () => {
    const def = policyLosses.get(name);
    const options = def.options.parse({});
    const loss = (b: PolicyLossBatch) => def.loss(b, options);
    const batch = (lp: Ragged, old: Ragged, adv: Ragged, m?: Ragged): PolicyLossBatch => ({
      logp: lp,
      oldLogp: old,
      advantages: adv,
      rewards,
      correct: rewards,
      groupSize: 2,
      mask: m,
      logpDetached: lp,
      aggregation: 'token-mean',
    });
    const masked = loss(batch(junk(logp), junk(oldLogp), junk(advantages), mask));
    const compact = loss(batch(selectMasked(logp, mask), selectMasked(oldLogp, mask), selectMasked(advantages, mask)));
    close(masked.loss, compact.loss, 'loss');
    masked.dlogp.forEach((row, i) =>
      row.forEach((g, t) => {
        if (!mask[i][t]) assert.ok(g === 0, `dlogp[${i}][${t}] = ${g}`);
      }),
    );
    selectMasked(masked.dlogp, mask).forEach((row, i) =>
      row.forEach((g, t) => close(g, compact.dlogp[i][t], `dlogp ${i}/${t}`)),
    );
  });
}

test('KL to the reference, the critic loss and the entropy weights leave inserted tokens out', () => {
  for (const kind of ['k1', 'k2', 'k3'] as const) {
    const m = klLoss({
      logp: junk(logp),
      refLogp: junk(refLogp),
      kind,
      beta: 0.1,
      aggregation: 'seq-mean-token-mean',
      mask,
    });
    const c = klLoss({
      logp: selectMasked(logp, mask),
      refLogp: selectMasked(refLogp, mask),
      kind,
      beta: 0.1,
      aggregation: 'seq-mean-token-mean',
    });
    close(m.loss, c.loss, `kl ${kind}`);
    m.dlogp.forEach((row, i) =>
      row.forEach((g, t) => {
        if (!mask[i][t]) assert.ok(g === 0);
      }),
    );
  }
  const v = valueLoss({
    values: junk(values),
    oldValues: junk(oldValues),
    returns: junk(returns),
    clipRange: 0.2,
    aggregation: 'token-mean',
    mask,
  });
  const vc = valueLoss({
    values: selectMasked(values, mask),
    oldValues: selectMasked(oldValues, mask),
    returns: selectMasked(returns, mask),
    clipRange: 0.2,
    aggregation: 'token-mean',
  });
  close(v.loss, vc.loss, 'value loss');
  v.dvalues.forEach((row, i) =>
    row.forEach((g, t) => {
      if (!mask[i][t]) assert.ok(g === 0);
    }),
  );
  const w = aggregationWeights('seq-mean-token-mean', lengths, { mask });
  w.forEach((row, i) =>
    row.forEach((x, t) =>
      mask[i][t] ? close(x, 1 / (lengths.length * mask[i].filter(Boolean).length), 'weight') : assert.ok(x === 0),
    ),
  );
});
