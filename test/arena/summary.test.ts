/** The arena's numbers, on runs made up by hand so every expected value can be worked out on paper. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  heldOut,
  summarizeRun,
  summarizeMethods,
  defaultTarget,
  meanCurves,
  type ArenaRun,
} from '../../src/arena/summary.ts';
import { arenaReport, markdownTable } from '../../src/arena/report.ts';

const times = { 'time/generate_ms': 1000, 'time/prepare_ms': 500, 'time/update_ms': 500 };
// step 1 ends at wall time 100 after 2 s of work: training started at 98
const a: ArenaRun = {
  method: 'grpo',
  seed: 1,
  id: 'grpo-s1',
  accuracyBefore: 0.2,
  accuracyAfter: 0.45,
  seconds: 9,
  metrics: [
    { step: 1, wall_time: 100, ...times, completion_length: 10, kl: 0.1 },
    { step: 2, wall_time: 103, ...times, completion_length: 12, kl: 0.3, eval_accuracy: 0.5 },
    { step: 3, wall_time: 104.5, ...times, completion_length: 14, kl: null },
  ],
};
// step 1 ends at 50 after 1 s: started at 49
const b: ArenaRun = {
  method: 'grpo',
  seed: 2,
  id: 'grpo-s2',
  accuracyBefore: 0.2,
  accuracyAfter: 0.55,
  seconds: 7,
  metrics: [
    { step: 1, wall_time: 50, 'time/generate_ms': 1000, completion_length: 20, kl: 0.5 },
    { step: 2, wall_time: 52, completion_length: 20, kl: 0.5, eval_accuracy: 0.4 },
    { step: 3, wall_time: 53, completion_length: 20, kl: 0.5 },
  ],
};

test('held-out points: the start, each evaluation during training, the final evaluation at the last step', () => {
  assert.deepEqual(heldOut(a), [
    [0, 0.2],
    [2, 0.5],
    [3, 0.45],
  ]);
});

test("a run's summary: final, best, first step and training seconds at the target, tail means of length and KL", () => {
  assert.deepEqual(summarizeRun(a, 0.5), {
    final: 0.45,
    best: 0.5,
    stepsToTarget: 2,
    secondsToTarget: 5,
    completionLength: 12,
    kl: 0.2,
    seconds: 9,
  });
  assert.equal(summarizeRun(b, 0.5).secondsToTarget, 4, 'reached by the final evaluation after step 3: 53 − 49');
  assert.equal(summarizeRun(a, 0.6).stepsToTarget, null);
  assert.equal(summarizeRun(a, 0.6).secondsToTarget, null);
  assert.deepEqual(
    [summarizeRun(a, 0.1).stepsToTarget, summarizeRun(a, 0.1).secondsToTarget],
    [0, 0],
    'the start already meets it',
  );
});

test('over seeds: mean and sample standard deviation; to-target spreads count only the seeds that got there', () => {
  const [m] = summarizeMethods([a, b], 0.5);
  assert.equal(m.seeds, 2);
  assert.ok(Math.abs(m.final!.mean - 0.5) < 1e-12);
  assert.ok(Math.abs(m.final!.sd! - Math.SQRT1_2 / 10) < 1e-12, 'sd of 0.45 and 0.55 = 0.05·√2');
  assert.deepEqual([m.stepsToTarget!.mean, m.secondsToTarget!.mean, m.stepsToTarget!.n], [2.5, 4.5, 2]);
  const [high] = summarizeMethods([a, b], 0.55);
  assert.deepEqual([high.stepsToTarget!.mean, high.stepsToTarget!.n, high.stepsToTarget!.sd], [3, 1, null]);
  assert.ok(Math.abs(m.kl!.mean - 0.35) < 1e-12, 'KL: 0.2 and 0.5');
});

test('the default target is 90% of the best held-out accuracy after training started', () => {
  assert.equal(defaultTarget([a, b]), 0.495);
  const zero = { ...a, accuracyAfter: 0, metrics: a.metrics.map((m) => ({ ...m, eval_accuracy: null })) };
  assert.equal(
    defaultTarget([zero]),
    1,
    'nothing learned: a target no run reached, not 0% reached by all at the start',
  );
});

test('curves average the seeds step by step, held-out accuracy included', () => {
  const [c] = meanCurves([a, b]);
  assert.equal(c.method, 'grpo');
  const at = (step: number) => c.rows.find((r) => r.step === step)!;
  assert.equal(at(0).heldout_accuracy, 0.2);
  assert.ok(Math.abs(at(2).heldout_accuracy - 0.45) < 1e-12);
  assert.equal(at(1).completion_length, 15);
  assert.equal(at(3).kl, 0.5, 'a missing value leaves the mean to the seeds that have one');
  assert.ok(
    c.rows.every((r) => !('eval_accuracy' in r)),
    'evaluations appear once, within heldout_accuracy',
  );
});

test('the markdown table: one row per method, ± over seeds, k/n where only some seeds reached the target', () => {
  const md = markdownTable(
    arenaReport(
      { name: 'x', dir: '/runs/x', configFile: 'c.yaml', runs: [a, b, { ...a, method: 'rloo', id: 'rloo-s1' }] },
      0.55,
    ),
  );
  const rows = md.split('\n').filter((l) => l.startsWith('| grpo') || l.startsWith('| rloo'));
  assert.equal(rows.length, 2);
  assert.match(rows[0], /^\| grpo \| 0\.500 ± 0\.071 \| 0\.525 ± 0\.035 \| 3 \(1\/2\) \| 4\.0 \(1\/2\) \|/);
  assert.equal(rows[1], '| rloo | 0.450 | 0.500 | — | — | 12.0 | 0.2000 | 9.0 |', 'one seed: no ±');
  assert.match(md, /steps to 55%/);
});
