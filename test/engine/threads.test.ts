/** The default thread count leaves out cores other processes are using, but not those this process used itself. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coresBusyElsewhere, defaultThreadCount } from '../../src/engine/backend.ts';

test("cores busy elsewhere: the machine's busy time less our own, as a share of all CPU time, times the cores", () => {
  const a = { busy: 1000, total: 4000, self: 300 };
  // 4 cores over 100 ticks each (400 in all): 200 busy, 100 of them ours → 100 / 400 of 4 cores = 1
  assert.equal(coresBusyElsewhere(a, { busy: 1200, total: 4400, self: 400 }, 4), 1);
  // all the busy time was ours (a run of our own that just ended counts for nothing)
  assert.equal(coresBusyElsewhere(a, { busy: 1400, total: 4400, self: 700 }, 4), 0);
  // a fully loaded machine leaves one core
  assert.equal(coresBusyElsewhere(a, { busy: 1400, total: 4400, self: 300 }, 4), 3);
  assert.equal(coresBusyElsewhere(a, a, 4), 0, 'no time passed');
});

test('GRPO_THREADS overrides the measurement', () => {
  const saved = process.env.GRPO_THREADS;
  process.env.GRPO_THREADS = '3';
  try {
    assert.equal(defaultThreadCount(), 3);
  } finally {
    if (saved === undefined) delete process.env.GRPO_THREADS;
    else process.env.GRPO_THREADS = saved;
  }
});
