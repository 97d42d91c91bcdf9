/** The update's loss terms are added once: losses sum, per-token coefficients of log-probs sum, a non-finite one is caught. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entropyTerm, sumTerms } from '../../src/trainer/loss-terms.ts';
import { resolveRunPlan } from '../../src/trainer/run-plan.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import type { UpdateSequence } from '../../src/trainer/update-sequence.ts';

test('sumTerms adds the losses and the log-prob coefficients, keeps the value and entropy ones, and flags a NaN', () => {
  const policy = { loss: 0.5, dlogp: [[0.1, -0.2], [0.3]], stats: {} };
  const kl = { loss: 0.25, dlogp: [[0.01, 0.02], [0.03]], stats: {} };
  const value = { loss: 1, dvalues: [[2, 2], [2]], stats: {} };
  const total = sumTerms([policy, kl, value, null]);
  assert.equal(total.loss, 1.75);
  assert.deepEqual(
    total.dlogp!.map((r) => r.map((x) => Math.round(x * 1e12) / 1e12)),
    [[0.11, -0.18], [0.33]],
  );
  assert.deepEqual(total.dvalues, [[2, 2], [2]]);
  assert.equal(total.dentropy, undefined);
  assert.ok(total.finite);
  assert.equal(sumTerms([policy, { loss: 0, dlogp: [[NaN, 0], [0]], stats: {} }]).finite, false);
});

test('the entropy bonus: −c × the aggregation weights, and its loss −c·agg(H); the masked token counts nowhere', () => {
  const cfg = validateTrainConfig({
    name: 't',
    out_dir: '/tmp',
    model: { path: 'unused' },
    data: { train: 'embedded:toy' },
    rollout: { group_size: 2, max_tokens: 8 },
    algorithm: { entropy_coef: 0.1, aggregation: 'token-mean' },
  });
  const plan = resolveRunPlan(cfg);
  const part = [{ oldLogp: [0, 0] }, { oldLogp: [0] }] as unknown as UpdateSequence[];
  // token-mean over the 2 counted tokens (the second sequence's one token is masked): weights ½, ½, 0
  const t = entropyTerm(plan, {
    part,
    logp: [[0, 0], [0]],
    entropy: [[1, 3], [5]],
    mask: [[1, 1], [0]],
    normalizer: { tokens: 2, sequences: 1 },
    groupSizes: [2],
    miniSequences: 2,
  });
  assert.deepEqual(t.dentropy, [[-0.05, -0.05], [-0]]);
  assert.ok(Math.abs(t.loss - -0.1 * 2) < 1e-12, `loss ${t.loss}`);
  assert.deepEqual(t.stats, { entropy_sum: 4, entropy_tokens: 2 });
});
