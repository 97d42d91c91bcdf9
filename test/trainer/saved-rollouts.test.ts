/** The batches an asynchronous run saves in its checkpoint come back exactly, and refuse a dataset they do not fit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreBatches, serializeBatches } from '../../src/trainer/saved-rollouts.ts';
import type { Rollout, RolloutBatch } from '../../src/trainer/rollouts.ts';
import { GrpoError } from '../../src/errors.ts';

const examples = [
  { id: 'e0', prompt: 'p0', answer: '0' },
  { id: 'e1', prompt: 'p1', answer: '1' },
];
const promptIds = [
  [1, 2],
  [1, 3, 4],
];

function rollout(i: number, extra: Partial<Rollout> = {}): Rollout {
  return {
    example: examples[i],
    exampleIndex: i,
    promptIds: promptIds[i],
    completionIds: [5, 6, 7],
    logprobs: [-0.1234567890123, -2.5e-17, -7],
    finishReason: 'stop',
    text: 'NaN',
    rewards: { math: 1, format: 0.1 },
    reward: 1.1,
    policyVersion: 3,
    ...extra,
  };
}

test('saved batches come back equal: numbers to the last bit, NaN and Infinity included, episodes and masks kept', () => {
  const batches: RolloutBatch[] = [
    {
      groups: [[rollout(1), rollout(1, { reward: Number.NaN, rewards: { math: Number.NEGATIVE_INFINITY } })]],
      genBatches: 2,
      droppedGroups: 1,
      generated: 8,
      rewardFailures: 1,
      fracZeroStd: 0.5,
      beforeFilter: { reward: 0.25, completionLength: 3, fracZeroStd: 0.5 },
    },
    {
      groups: [
        [
          rollout(0, {
            sampledMask: [1, 0, 1],
            episode: { turns: 2, toolCalls: 1, toolErrors: 0, turnRewards: [{ reward: 0.5, at: 2 }] },
            finishReason: 'length',
          }),
        ],
      ],
      genBatches: 1,
      droppedGroups: 0,
      generated: 4,
      rewardFailures: 0,
      fracZeroStd: 0,
    },
  ];
  const back = restoreBatches(serializeBatches(batches), 'rollouts-ahead.json', { examples, promptIds });
  assert.deepEqual(back, batches);
  assert.equal(back[0].groups[0][0].example, examples[1], 'the example is the dataset’s own object');
});

test('a saved rollout of an example the dataset lacks, or an edited file, is one checkpoint error', () => {
  const json = serializeBatches([
    { groups: [[rollout(1)]], genBatches: 1, droppedGroups: 0, generated: 1, rewardFailures: 0, fracZeroStd: 0 },
  ]);
  assert.throws(
    () => restoreBatches(json, 'ahead.json', { examples: examples.slice(0, 1), promptIds }),
    (e: unknown) =>
      e instanceof GrpoError && e.code === 'checkpoint' && /example 1, but the dataset has 1/.test(e.message),
  );
  assert.throws(
    () => restoreBatches(json.replace('"stop"', '"halt"'), 'ahead.json', { examples, promptIds }),
    (e: unknown) => e instanceof GrpoError && /ahead\.json: 'batches\.0\.groups\.0\.0\.finishReason'/.test(e.message),
  );
});
