// GEPA instance fronts, dominance removal and frequency-weighted parent selection, on hand-built score tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.ts';
import {
  addToFront,
  dominatorPrograms,
  isDominated,
  newInstanceFront,
  removeDominatedPrograms,
  selectCandidate,
  selectParetoCandidate,
} from '../../src/trainingfree/gepa/pareto.ts';

/** rows = programs, columns = validation instances */
const table = [
  [1, 0, 0, 0, 0], // p0, mean 0.2
  [1, 1, 0, 0, 0], // p1, mean 0.4
  [0, 1, 1, 0, 1], // p2, mean 0.6
  [0, 0, 1, 1, 0], // p3, mean 0.4
];
const means = table.map((r) => r.reduce((a, b) => a + b, 0) / r.length);

function frontOf(rows: number[][]) {
  const front = newInstanceFront(rows[0].length);
  rows.forEach((r, p) => addToFront(front, p, r));
  return front;
}

test('the front keeps, per instance, every program at the best score; a strictly better score replaces it', () => {
  const front = frontOf(table);
  // by hand: inst0 best 1 by p0,p1; inst1 by p1,p2; inst2 by p2,p3; inst3 by p3; inst4 by p2
  assert.deepEqual(front.programs, [[0, 1], [1, 2], [2, 3], [3], [2]]);
  assert.deepEqual(front.scores, [1, 1, 1, 1, 1]);
  addToFront(front, 4, [0.5, 2, 1, 0, 0]);
  assert.deepEqual(front.programs, [[0, 1], [4], [2, 3, 4], [3], [2]]);
  assert.deepEqual(front.scores, [1, 2, 1, 1, 1]);
});

test('dominance: p0 is dominated (its only front also holds p1); p1, p2, p3 each own a front or share with survivors only', () => {
  const fronts = frontOf(table).programs;
  assert.equal(isDominated(0, new Set([1, 2, 3]), fronts), true);
  assert.equal(isDominated(3, new Set([0, 1, 2]), fronts), false); // inst3 holds p3 alone
  // removal visits p0 (0.2), p1 (0.4), p3 (0.4), p2 (0.6): only p0 goes
  assert.deepEqual(removeDominatedPrograms(fronts, means), [[1], [1, 2], [2, 3], [3], [2]]);
  assert.deepEqual(dominatorPrograms(fronts, means), [1, 2, 3]);
});

test('dominance: of two identical programs the lower-ranked one goes and every front keeps a program', () => {
  // p0 and p1 are equally good everywhere; ties in mean are broken by index, so p0 is examined first and removed
  const fronts = frontOf([
    [1, 1],
    [1, 1],
    [0, 0],
  ]).programs;
  assert.deepEqual(removeDominatedPrograms(fronts, [1, 1, 0]), [[1], [1]]);
  // fronts {0,1,2}, {0,1}, {1}; means p0 0.5, p1 0.9, p2 0.1 → visit p2, p0, p1.
  // p2's only front also holds p0 and p1: removed. p0's fronts both hold p1: removed. p1 is then alone everywhere.
  const chain = [[0, 1, 2], [0, 1], [1]];
  assert.deepEqual(removeDominatedPrograms(chain, [0.5, 0.9, 0.1]), [[1], [1], [1]]);
  // a specialist survives: p0 is best overall but p1 alone holds inst1
  assert.deepEqual(removeDominatedPrograms([[0], [1], [0, 1]], [0.9, 0.2]), [[0], [1], [0, 1]]);
});

test('parent selection frequencies match front membership: p1 2/7, p2 3/7, p3 2/7, p0 never', () => {
  const fronts = frontOf(table).programs;
  const rng = new Rng(12345);
  const draws = 20_000;
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < draws; k++) counts[selectParetoCandidate(fronts, means, rng)]++;
  const expected = [0, 2 / 7, 3 / 7, 2 / 7];
  // binomial standard error ≤ sqrt(0.25/20000) ≈ 0.0035; allow 0.015 (> 4 standard errors)
  counts.forEach((c, p) =>
    assert.ok(Math.abs(c / draws - expected[p]) < 0.015, `p${p}: ${c / draws} vs ${expected[p]}`),
  );
  assert.equal(counts[0], 0);
});

test('selection is reproducible from the seed; empty fronts fall back to the best mean; other strategies', () => {
  const fronts = frontOf(table).programs;
  const a = Array.from(
    { length: 20 },
    (
      (r) => () =>
        selectParetoCandidate(fronts, means, r)
    )(new Rng(7)),
  );
  const b = Array.from(
    { length: 20 },
    (
      (r) => () =>
        selectParetoCandidate(fronts, means, r)
    )(new Rng(7)),
  );
  assert.deepEqual(a, b);
  assert.equal(selectParetoCandidate([[], []], [0.1, 0.3, 0.2], new Rng(1)), 1);
  assert.equal(selectCandidate('current_best', fronts, means, new Rng(1)), 2);
  // epsilon 0: always the best; epsilon 1: uniform over all programs
  assert.equal(selectCandidate('epsilon_greedy', fronts, means, new Rng(1), 0), 2);
  const rng = new Rng(3);
  const seen = new Set(Array.from({ length: 200 }, () => selectCandidate('epsilon_greedy', fronts, means, rng, 1)));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});
