import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt } from '../../src/engine/schedule.ts';

test('constant schedule with linear warm-up (HF get_constant_schedule_with_warmup)', () => {
  const s = { kind: 'constant' as const, lr: 1e-3, warmupSteps: 4 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 100].map((k) => learningRateAt(k, s)),
    [0, 2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3],
  );
});

test('linear decay after warm-up reaches the floor at totalSteps', () => {
  const s = { kind: 'linear' as const, lr: 1, warmupSteps: 2, totalSteps: 12 };
  // after warm-up: 1 − (step − 2)/10
  assert.deepEqual(
    [2, 7, 12, 20].map((k) => learningRateAt(k, s)),
    [1, 0.5, 0, 0],
  );
  assert.equal(learningRateAt(7, { ...s, minRatio: 0.1 }), 0.1 + 0.9 * 0.5);
});

test('cosine decay: half-way is the mid-point, end is the floor', () => {
  const s = { kind: 'cosine' as const, lr: 2, totalSteps: 100 };
  assert.equal(learningRateAt(0, s), 2);
  assert.ok(Math.abs(learningRateAt(50, s) - 1) < 1e-12);
  assert.ok(Math.abs(learningRateAt(25, s) - (1 + Math.cos(Math.PI / 4))) < 1e-12);
  assert.ok(Math.abs(learningRateAt(100, s)) < 1e-12);
});

test('decaying schedules need totalSteps', () => {
  assert.throws(() => learningRateAt(3, { kind: 'cosine', lr: 1 }), /needs totalSteps/);
});
