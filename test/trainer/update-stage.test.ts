/** How a micro-batch's policy loss counts toward its mini-batch: as the reference implementations scale it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  discoLoss,
  gvpoLoss,
  methodOptions,
  policyLosses,
  ppoClipLoss,
  type PolicyLossBatch,
} from '../../src/algorithms/index.ts';
import { microBatchPolicyLoss } from '../../src/trainer/loss-terms.ts';

// two questions of two completions each; every question has one right and one wrong answer
const logp = [[-1.1, -1.3], [-1.6], [-0.6, -0.7, -0.8], [-2.1]];
const oldLogp = [[-1, -1], [-1.5], [-0.5, -0.5, -0.5], [-2]];
const rewards = [1, 0, 0, 1];
const micro = (lo: number, hi: number, extra: Partial<PolicyLossBatch> = {}): PolicyLossBatch => ({
  logp: logp.slice(lo, hi),
  oldLogp: oldLogp.slice(lo, hi),
  rewards: rewards.slice(lo, hi),
  correct: rewards.slice(lo, hi),
  advantages: [0.5, -0.5, -0.5, 0.5].slice(lo, hi),
  groupSize: 2,
  aggregation: 'token-mean',
  ...extra,
});
const run = (name: string, options: Record<string, unknown>) => {
  const m = policyLosses.get(name);
  const o = methodOptions(m, 'policy loss', options);
  return [micro(0, 2), micro(2, 4)].map((b) => microBatchPolicyLoss(m, o, b, 4));
};

test('DisCO: each micro-batch counts 1/GA, so its KL penalty is not GA times too strong (Optimization-AI/DisCO dp_actor.py)', () => {
  const [a, b] = run('disco', { disco_delta: 0, disco_beta: 1000 });
  // the reference: loss = Σ_mb discoLoss(mb) / GA with GA = 2 micro-batches
  const ref = [micro(0, 2), micro(2, 4)].map((mb) =>
    discoLoss({ ...mb, delta: 0, beta: 1000, positiveThreshold: 0.5 }),
  );
  assert.ok(Math.abs(a.loss + b.loss - (ref[0].loss + ref[1].loss) / 2) < 1e-12);
  ref.forEach((r, k) =>
    [a, b][k].dlogp.forEach((row, i) => row.forEach((g, t) => assert.ok(Math.abs(g - r.dlogp[i][t] / 2) < 1e-12))),
  );
  // the penalty part of the loss: half of each micro-batch's (β/2)[KL − δ]²
  const penalty = (r: (typeof ref)[0]) => 0.5 * 1000 * (r.stats!.kl as number) ** 2;
  assert.ok(penalty(ref[0]) > 0.1, 'the trust region acts on these numbers');
  const objective = (mb: PolicyLossBatch) => discoLoss({ ...mb, beta: 0, positiveThreshold: 0.5 }).loss / 2;
  assert.ok(Math.abs(a.loss - objective(micro(0, 2)) - penalty(ref[0]) / 2) < 1e-9);
});

test("GVPO: each micro-batch's summed loss counts 1/GA (verl recipe/gvpo gvpo_dp_actor.py)", () => {
  const [a, b] = run('gvpo', { gvpo_beta: 0.1 });
  const ref = [micro(0, 2), micro(2, 4)].map((mb) => gvpoLoss({ ...mb, beta: 0.1 }));
  assert.ok(Math.abs(a.loss + b.loss - (ref[0].loss + ref[1].loss) / 2) < 1e-12);
  assert.ok(Math.abs(b.dlogp[0][1] - ref[1].dlogp[0][1] / 2) < 1e-12);
});

test("losses counted with the mini-batch normaliser are not rescaled (micro-batching never changes PPO's update)", () => {
  const [a] = run('ppo', {});
  const direct = ppoClipLoss({ ...micro(0, 2), epsLow: 0.2, epsHigh: 0.2, level: 'token' });
  assert.equal(a.loss, direct.loss);
});
