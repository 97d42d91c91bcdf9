/**
 * The queue of batches generated ahead (asynchronous rollouts): how far ahead it starts them, that they are generated
 * one after another in order, that it starts none beyond the run's steps, that restored batches come first, and that a
 * failed batch fails only the step that takes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RolloutQueue } from '../../src/trainer/rollout-queue.ts';
import type { RolloutBatch } from '../../src/trainer/rollouts.ts';

/** A batch whose only content is its number (genBatches), and a generator that counts and orders its calls. */
const batch = (n: number): RolloutBatch => ({
  groups: [],
  genBatches: n,
  droppedGroups: 0,
  generated: 0,
  rewardFailures: 0,
  fracZeroStd: 0,
});

function recorder(fail?: number) {
  const events: string[] = [];
  let n = 0;
  const gen = async (): Promise<RolloutBatch> => {
    const mine = ++n;
    events.push(`start ${mine}`);
    await new Promise((r) => setTimeout(r, 5));
    events.push(`end ${mine}`);
    if (mine === fail) throw new Error(`batch ${mine} failed`);
    return batch(mine);
  };
  return { events, gen, started: () => n };
}

test('depth 1: taking a batch starts the next one; batches are generated one after another, in order', async () => {
  const r = recorder();
  const q = new RolloutQueue(r.gen, 1, 4);
  assert.equal((await q.take()).genBatches, 1);
  await new Promise((res) => setImmediate(res));
  assert.equal(r.started(), 2, 'the second batch starts when the first is taken');
  assert.equal((await q.take()).genBatches, 2);
  assert.equal((await q.take()).genBatches, 3);
  assert.equal((await q.take()).genBatches, 4);
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(r.started(), 4, 'no batch beyond the run’s steps');
  assert.deepEqual(r.events, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
});

test('depth 2 keeps two batches under way, still one at a time; drain waits for them', async () => {
  const r = recorder();
  const q = new RolloutQueue(r.gen, 2, 10);
  await q.take();
  const ahead = await q.drain();
  assert.deepEqual(
    ahead.map((b) => b.genBatches),
    [2, 3],
  );
  assert.deepEqual(r.events, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
});

test('restored batches are taken first and count toward the run’s steps', async () => {
  const r = recorder();
  const q = new RolloutQueue(r.gen, 1, 3, [batch(101), batch(102)]);
  assert.equal((await q.take()).genBatches, 101);
  assert.equal(r.started(), 0, 'the restored batch ahead fills the depth');
  assert.equal((await q.take()).genBatches, 102);
  assert.equal((await q.take()).genBatches, 1);
  assert.equal(r.started(), 1);
});

test('depth 0 generates each batch when it is taken (the synchronous order)', async () => {
  const r = recorder();
  const q = new RolloutQueue(r.gen, 0, 5);
  await q.take();
  assert.equal(r.started(), 1);
  assert.deepEqual(await q.drain(), []);
});

test('a failed batch fails the step that takes it; the batch after it is still generated', async () => {
  const r = recorder(2);
  const q = new RolloutQueue(r.gen, 1, 4);
  await q.take();
  await assert.rejects(q.take(), /batch 2 failed/);
  assert.equal((await q.take()).genBatches, 3);
});
