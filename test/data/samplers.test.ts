import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UniformSampler, CurriculumSampler, PrioritizedSampler } from '../../src/data/samplers.ts';
import { filterByPassRate, prefilterBySolveRate } from '../../src/data/prefilter.ts';

test('uniform sampler visits every index once per epoch, reproducibly, and resumes from state', () => {
  const s = new UniformSampler(10, 3);
  const epoch = [...s.next(4), ...s.next(6)];
  assert.deepEqual(
    [...epoch].sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  const again = new UniformSampler(10, 3);
  assert.deepEqual([...again.next(4), ...again.next(6)], epoch);
  const saved = s.state();
  const expected = s.next(7);
  const resumed = new UniformSampler(10, 999);
  resumed.load(saved);
  assert.deepEqual(resumed.next(7), expected);
  assert.throws(() => new UniformSampler(0, 1), /positive number of examples/);
});

test('curriculum draws from the easiest share first and reaches all data after rampSteps', () => {
  const difficulties = [5, 1, 4, 2, 3, 1, 5, 2, 4, 3]; // easiest: indices 1, 5 (1), 3, 7 (2)
  const s = new CurriculumSampler(difficulties, { seed: 1, startFraction: 0.2, rampSteps: 4 });
  assert.equal(s.poolSize(), 2);
  const first = s.next(2);
  assert.deepEqual([...first].sort(), [1, 5]);
  // step 1: fraction 0.2 + 0.8·1/4 = 0.4 → the 4 easiest: 1, 5, 3, 7
  assert.equal(s.poolSize(), 4);
  for (const i of s.next(4)) assert.ok([1, 5, 3, 7].includes(i));
  s.next(1);
  s.next(1);
  assert.equal(s.poolSize(), 10);
  assert.throws(() => new CurriculumSampler([1, NaN], { seed: 1, rampSteps: 1 }), /no numeric difficulty/);
});

test('prioritised sampler follows 1 − success rate; solved problems stop being drawn', () => {
  const s = new PrioritizedSampler(4, { seed: 5 });
  s.update([0, 1, 2, 3], [1, 0.5, 0.9, 0]); // weights 0, 0.5, 0.1, 1
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < 4000; k++) counts[s.next(1)[0]]++;
  assert.equal(counts[0], 0);
  // expected shares 0.5/1.6, 0.1/1.6, 1/1.6 = 0.3125, 0.0625, 0.625 of 4000
  assert.ok(Math.abs(counts[1] / 4000 - 0.3125) < 0.03, `share 1: ${counts[1] / 4000}`);
  assert.ok(Math.abs(counts[2] / 4000 - 0.0625) < 0.02, `share 2: ${counts[2] / 4000}`);
  assert.ok(Math.abs(counts[3] / 4000 - 0.625) < 0.03, `share 3: ${counts[3] / 4000}`);
  const batch = s.next(4);
  assert.equal(new Set(batch).size, 4, 'a batch is distinct even when it must include weight-0 problems');
  const floor = new PrioritizedSampler(2, { seed: 1, minWeight: 0.1 });
  floor.update([0, 1], [1, 1]);
  assert.equal(floor.weight(0), 0.1);
  assert.throws(() => s.update([0], [1.5]), /outside \[0, 1\]/);
  const resumed = new PrioritizedSampler(4, { seed: 0 });
  resumed.load(s.state());
  assert.deepEqual(resumed.next(3), s.next(3));
});

test('pass-rate filter drops all-solved and none-solved prompts', () => {
  const r = filterByPassRate(['a', 'b', 'c', 'd'], [1, 0, 0.5, 0.25]);
  assert.deepEqual(r.kept, ['c', 'd']);
  assert.deepEqual(r.dropped, ['a', 'b']);
  assert.deepEqual(filterByPassRate(['a', 'b'], [1, 0], { dropNoneSolved: false }).kept, ['b']);
});

test('prefilter runs attempts with limited concurrency and keeps prompts with signal', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const outcomes: Record<string, (boolean | number)[]> = {
    easy: [true, true],
    hard: [false, 0],
    mid: [true, 0.2],
    partial: [1, 0],
  };
  const r = await prefilterBySolveRate(
    Object.keys(outcomes),
    async (name) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((res) => setTimeout(res, 5));
      inFlight--;
      return outcomes[name];
    },
    { concurrency: 2 },
  );
  assert.deepEqual(r.passRates, [1, 0, 0.5, 0.5]);
  assert.deepEqual(r.kept, ['mid', 'partial']);
  assert.ok(maxInFlight <= 2);
});
