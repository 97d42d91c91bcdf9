// A step's metrics record: the tools/* metrics of multi-turn episodes count calls, as TRL's do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepMetrics } from '../../src/trainer/step-metrics.ts';
import type { Rollout, RolloutBatch } from '../../src/trainer/rollouts.ts';

function episode(toolCalls: number, toolErrors: number): Rollout {
  return {
    example: { id: 'e', prompt: 'q', answer: 'a' },
    exampleIndex: 0,
    promptIds: [1],
    completionIds: [2, 3],
    logprobs: [-1, -1],
    episode: { turns: toolCalls ? 2 : 1, toolCalls, toolErrors, turnRewards: [] },
    finishReason: 'stop',
    text: 'x',
    rewards: { r: 0 },
    reward: 0,
  };
}

test('tools/failure_frequency is failed calls over calls (TRL), not a mean over episodes', () => {
  // one episode made 4 calls and all failed, one made 1 call that worked, two made none: 4 of 5 calls failed
  const batch: RolloutBatch = {
    groups: [[episode(4, 4), episode(1, 0), episode(0, 0), episode(0, 0)]],
    genBatches: 1,
    droppedGroups: 0,
    generated: 4,
    rewardFailures: 0,
    fracZeroStd: 1,
  };
  const m = stepMetrics(1, batch, undefined, null, null, 0, { generate: 0, prepare: 0, update: 0 });
  assert.equal(m['tools/failure_frequency'], 0.8);
  assert.equal(m['tools/calls_per_episode'], 5 / 4);
  // no call at all: nothing failed (TRL logs 0 too)
  const none: RolloutBatch = { ...batch, groups: [[episode(0, 0), episode(0, 0)]] };
  assert.equal(
    stepMetrics(1, none, undefined, null, null, 0, { generate: 0, prepare: 0, update: 0 })['tools/failure_frequency'],
    0,
  );
});
