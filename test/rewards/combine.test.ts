import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineRewards, rewardMetrics } from '../../src/rewards/combine.ts';
import type { RewardSpec } from '../../src/rewards/types.ts';

test('per-reward scores, weighted total, async rewards run concurrently', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const specs: RewardSpec[] = [
    { name: 'len', weight: 0.5, fn: (c) => c.length },
    {
      name: 'slow',
      weight: 2,
      fn: async (c) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        return c === 'bb' ? 1 : 0;
      },
    },
  ];
  const r = await combineRewards(specs, ['a', 'bb', 'ccc'], [{}, {}, {}]);
  assert.deepEqual(r.perReward.len, [1, 2, 3]);
  assert.deepEqual(r.perReward.slow, [0, 1, 0]);
  assert.deepEqual(r.total, [0.5, 3, 1.5]); // 0.5·len + 2·slow, by hand
  assert.equal(maxInFlight, 3);
  assert.deepEqual(r.names, ['len', 'slow']);
});

test('a throwing, rejecting or non-finite reward scores 0 and is counted; the others are kept', async () => {
  const specs: RewardSpec[] = [
    { name: 'ok', weight: 1, fn: () => 1 },
    {
      name: 'throws',
      weight: 1,
      fn: (c) => {
        if (c === 'x') throw new Error('boom');
        return 2;
      },
    },
    {
      name: 'rejects',
      weight: 1,
      fn: async () => {
        throw new Error('async boom');
      },
    },
    { name: 'nan', weight: 1, fn: () => NaN },
  ];
  const r = await combineRewards(specs, ['x', 'y'], [{}, {}]);
  assert.deepEqual(r.perReward.throws, [0, 2]);
  assert.deepEqual(r.failures, { ok: 0, throws: 1, rejects: 2, nan: 2 });
  assert.deepEqual(r.total, [1, 3]);
  assert.ok(r.failureDetails.some((f) => f.reward === 'throws' && f.message === 'boom'));
  const m = rewardMetrics(r);
  assert.equal(m['rewards/throws/mean'], 1);
  assert.equal(m['rewards/rejects/failures'], 2);
  assert.equal(m.reward, 2);
});

test('group rewards see one group at a time', async () => {
  const seenGroups: string[][] = [];
  const specs: RewardSpec[] = [
    {
      name: 'rank',
      weight: 1,
      groupFn: (cs) => {
        seenGroups.push([...cs]);
        return cs.map((_, i) => i);
      },
    },
  ];
  const r = await combineRewards(specs, ['a', 'b', 'c', 'd'], [{}, {}, {}, {}], { groupIds: [0, 1, 0, 1] });
  assert.deepEqual(seenGroups, [
    ['a', 'c'],
    ['b', 'd'],
  ]);
  assert.deepEqual(r.perReward.rank, [0, 0, 1, 1]);
  await assert.rejects(combineRewards(specs, ['a'], [{}]), /pass groupIds/);
});

test('invalid specs are clear errors', async () => {
  await assert.rejects(
    combineRewards(
      [
        { name: 'a', weight: 1, fn: () => 1 },
        { name: 'a', weight: 1, fn: () => 1 },
      ],
      [],
      [],
    ),
    /used twice/,
  );
  await assert.rejects(combineRewards([{ name: 'a', weight: NaN, fn: () => 1 }], [], []), /finite/);
  await assert.rejects(
    combineRewards([{ name: 'a', weight: 1, fn: () => 1 }], ['x'], []),
    /1 completions but 0 samples/,
  );
});

test('buildRewards turns a config list into weighted specs', async () => {
  const { buildRewards } = await import('../../src/rewards/registry.ts');
  const specs = buildRewards([
    { type: 'math', weight: 1 },
    { type: 'format', name: 'fmt', weight: 0.5 },
    { type: 'kimi_length', weight: 0.1 },
  ]);
  assert.deepEqual(
    specs.map((s) => [s.name, s.weight]),
    [
      ['math', 1],
      ['fmt', 0.5],
      ['kimi_length', 0.1],
    ],
  );
  const r = await combineRewards(
    specs,
    ['<think>x</think><answer>\\boxed{4}</answer>', '\\boxed{5}'],
    [
      { answer: '4', completion_tokens: 10 },
      { answer: '4', completion_tokens: 20 },
    ],
    { groupIds: [0, 0] },
  );
  assert.deepEqual(r.perReward.math, [1, 0]);
  assert.deepEqual(r.perReward.fmt, [1, 0]);
  assert.deepEqual(r.perReward.kimi_length, [0.5, -0.5]); // shortest correct: λ = 0.5; longest wrong: min(0, −0.5)
  assert.deepEqual(r.total, [1 + 0.5 + 0.05, -0.05]);
  assert.throws(() => buildRewards([{ type: 'nope' }]), /rewards\[0\]\.type 'nope' is unknown/);
});
