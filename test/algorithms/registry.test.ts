/** Method registries: built-in methods under their names, options with the papers' defaults, and user methods. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  advantageEstimators,
  broadcastToTokens,
  discoLoss,
  groupAdvantages,
  gvpoLoss,
  methodOptions,
  policyLosses,
  ppoClipLoss,
  registerAdvantageEstimator,
  registerPolicyLoss,
  type PolicyLossBatch,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertClose, assertRaggedClose } from './helpers.ts';

const logp = [[-0.9, -1.7], [-1.1]];
const oldLogp = [[-1, -2], [-1]];
const batch = (extra: Partial<PolicyLossBatch> = {}): PolicyLossBatch => ({
  logp,
  oldLogp,
  advantages: [1, -1],
  rewards: [1, 0],
  groupSize: 2,
  aggregation: 'token-mean',
  ...extra,
});
const lossWith = (name: string, options: Record<string, unknown> = {}, extra: Partial<PolicyLossBatch> = {}) => {
  const m = policyLosses.get(name);
  return m.loss(batch(extra), methodOptions(m, 'policy loss', options));
};

test('every built-in method is registered under its name', () => {
  for (const n of ['grpo', 'dr_grpo', 'rloo', 'reinforce_baseline', 'reinforce_pp', 'gae', 'gdpo', 'none'])
    assert.ok(advantageEstimators.has(n), n);
  for (const n of ['ppo', 'gspo', 'gspo_token', 'rloo', 'disco', 'gvpo']) assert.ok(policyLosses.has(n), n);
  assert.equal(
    advantageEstimators.get('gae').critic?.({ value_coef: 0.5, value_clip: 0.2 } as never).coef,
    0.5,
    'GAE trains a critic',
  );
  assert.equal(policyLosses.get('disco').wholeGroups, true);
  assert.equal(policyLosses.get('ppo').wholeGroups, undefined, 'PPO sequences are independent given their advantages');
});

test('estimators compute what the pure functions compute', () => {
  const x = {
    rewards: [3, 1, 2, 10],
    tokenRewards: () => [],
    rewardsByFunc: [],
    rewardWeights: [],
    groupSizes: [4],
    lengths: [1, 2, 1, 1],
  };
  const rloo = advantageEstimators.get('rloo');
  assertRaggedClose(
    rloo.compute(x, methodOptions(rloo, 'advantage estimator', {})).advantages,
    broadcastToTokens(groupAdvantages([3, 1, 2, 10], 4, { estimator: 'rloo' }), x.lengths),
  );
  const dr = advantageEstimators.get('dr_grpo');
  assertRaggedClose(dr.compute({ ...x, rewards: [3, 1], groupSizes: [2], lengths: [1, 1] }, {}).advantages, [
    [1],
    [-1],
  ]);
});

test("policy losses take their papers' defaults: ppo symmetric 0.2, gspo 3e-4/4e-4", () => {
  const direct = (epsLow: number, epsHigh: number, level: 'token' | 'sequence') =>
    ppoClipLoss({ logp, oldLogp, advantages: [1, -1], epsLow, epsHigh, level, aggregation: 'token-mean' });
  assertClose(lossWith('ppo').loss, direct(0.2, 0.2, 'token').loss);
  assertClose(
    lossWith('ppo', { epsilon: 0.1 }).loss,
    direct(0.1, 0.1, 'token').loss,
    1e-12,
    'epsilon_high follows epsilon',
  );
  assertClose(lossWith('gspo').loss, direct(3e-4, 4e-4, 'sequence').loss);
  assertRaggedClose(lossWith('gspo_token').dlogp, direct(3e-4, 4e-4, 'sequence').dlogp); // A constant per sequence
  assertClose(
    lossWith('disco', { disco_beta: 0 }, { correct: [1, 0] }).loss,
    discoLoss({ logp, oldLogp, rewards: [1, 0], groupSize: 2, beta: 0 }).loss,
  );
  assertClose(
    lossWith('disco', { disco_beta: 0, disco_metric: 'reward' }).loss,
    discoLoss({ logp, oldLogp, rewards: [1, 0], groupSize: 2, beta: 0, positiveThreshold: 0.5 }).loss,
  );
  assertClose(
    lossWith('gvpo', { gvpo_beta: 0.2 }, { advantages: [0.5, -0.5] }).loss,
    gvpoLoss({ logp, oldLogp, advantages: [0.5, -0.5], groupSize: 2, beta: 0.2 }).loss,
  );
  assert.throws(() => lossWith('gvpo', {}, { weights: [[1, 1], [1]] }), GrpoError);
});

test('options are checked: an unknown or invalid one is one error naming it', () => {
  const ppo = policyLosses.get('ppo');
  assert.throws(
    () => methodOptions(ppo, 'policy loss', { epsilonn: 0.1 }),
    (e: unknown) => e instanceof GrpoError && /algorithm\.epsilonn: not an option of policy loss 'ppo'/.test(e.message),
  );
  assert.throws(
    () => methodOptions(ppo, 'policy loss', { epsilon: 2 }),
    (e: unknown) => e instanceof GrpoError && /algorithm\.epsilon:/.test(e.message),
  );
  assert.throws(
    () => policyLosses.get('nope'),
    (e: unknown) => e instanceof GrpoError && /unknown policy loss 'nope'; use one of ppo, /.test(e.message),
  );
});

test('users register their own methods; a taken name is refused', () => {
  const loss = registerPolicyLoss({
    name: 'registry_test_reinforce',
    description: 'plain REINFORCE: −A·logp, token mean',
    options: z.object({ scale: z.number().default(2) }),
    loss: (b, o) => {
      const n = b.logp.flat().length;
      const adv = broadcastToTokens(
        b.advantages,
        b.logp.map((r) => r.length),
      );
      return {
        loss: (-o.scale * b.logp.flat().reduce((s, lp, k) => s + lp * adv.flat()[k], 0)) / n,
        dlogp: adv.map((r) => r.map((a) => (-o.scale * a) / n)),
      };
    },
  });
  assert.equal(policyLosses.get('registry_test_reinforce'), loss);
  assert.deepEqual(lossWith('registry_test_reinforce').dlogp, [[-2 / 3, -2 / 3], [2 / 3]]);
  assert.throws(
    () => registerPolicyLoss({ ...loss }),
    (e: unknown) => e instanceof GrpoError && /already registered/.test(e.message),
  );
  assert.throws(
    () =>
      registerAdvantageEstimator({
        name: 'Bad Name',
        description: '',
        options: z.object({}),
        compute: () => ({ advantages: [] }),
      }),
    GrpoError,
  );
});
