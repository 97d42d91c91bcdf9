// Advantages of multi-turn episodes: computed over the sampled tokens only (inserted tokens get 0), matching verl's
// multi-turn GAE, which skips the values and TD errors of observation tokens; per-turn rewards are credited at the
// end of their turn by token-level methods and summed into the outcome by group methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAdvantages } from '../../src/trainer/advantage-stage.ts';
import { resolveAlgorithm } from '../../src/trainer/config/presets.ts';

const preset = (name: string, extra: Record<string, unknown> = {}) =>
  resolveAlgorithm({ preset: name, ...extra }, { groupSize: 2, maxTokens: 8 });

const mask = [
  [1, 1, 0, 0, 1, 1],
  [1, 0, 1, 1],
];
const values = [
  [0.1, 0.4, 9, 9, -0.2, 0.3],
  [0.5, 9, 0.2, -0.1],
];
const rewards = [1, 0];
const base = {
  rewards,
  rewardsByFunc: [rewards],
  rewardWeights: [1],
  groupSizes: [2],
  oldLogp: mask.map((m) => m.map(() => -1)),
  sampledMask: mask,
};

/** verl core_algos.compute_gae_advantage_return on one row, written out as there (reward on the last sampled token). */
function verlGae(rewardsRow: number[], v: number[], m: number[], gamma: number, lam: number): number[] {
  let nextValues = 0,
    lastGae = 0;
  const out = new Array<number>(v.length).fill(0);
  for (let t = v.length - 1; t >= 0; t--) {
    const delta = rewardsRow[t] + gamma * nextValues - v[t];
    const gae = delta + gamma * lam * lastGae;
    nextValues = v[t] * m[t] + (1 - m[t]) * nextValues;
    lastGae = gae * m[t] + (1 - m[t]) * lastGae;
    out[t] = lastGae;
  }
  return out;
}

test('GAE over an episode skips inserted tokens as verl does, and gives them no advantage', () => {
  const a = preset('ppo', { gamma: 0.9, lambda: 0.8, whiten_advantages: false, kl_beta: 0 });
  const out = computeAdvantages(a, { ...base, values });
  mask.forEach((m, i) => {
    const tokenRewards = m.map((_, t) => (t === m.lastIndexOf(1) ? rewards[i] : 0));
    const ref = verlGae(tokenRewards, values[i], m, 0.9, 0.8);
    m.forEach((x, t) => {
      if (x)
        assert.ok(
          Math.abs(out.advantages[i][t] - ref[t]) < 1e-12,
          `advantage ${i}/${t}: ${out.advantages[i][t]} vs ${ref[t]}`,
        );
      else assert.equal(out.advantages[i][t], 0);
    });
  });
  // returns = advantages + values on sampled tokens (the critic's targets); inserted tokens' values never enter
  assert.ok(Math.abs(out.returns![0][1] - (out.advantages[0][1] + values[0][1])) < 1e-12);
});

test('group advantages cover the sampled tokens of each episode; per-turn rewards are credited where their turn ended', () => {
  const grpo = computeAdvantages(preset('grpo'), base);
  // two episodes, rewards 1 and 0: ±1/√2 (Bessel std) on every sampled token
  grpo.advantages.forEach((row, i) =>
    row.forEach((x, t) => assert.ok(Math.abs(x - (mask[i][t] ? (i === 0 ? 1 : -1) / Math.SQRT2 : 0)) < 1e-5)),
  );
  // REINFORCE++ with γ = 1 and no whitening: the return of a token is the sum of the rewards after it
  const rpp = preset('reinforce_pp', { gamma: 1, whiten_advantages: false, kl_beta: 0 });
  const turnRewards = [
    [0, 0.5, 0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  const out = computeAdvantages(rpp, { ...base, rewards: [1.5, 0], turnRewards });
  assert.deepEqual(out.advantages[0], [1.5, 1.5, 0, 0, 1, 1]);
  assert.deepEqual(out.advantages[1], [0, 0, 0, 0]);
});
