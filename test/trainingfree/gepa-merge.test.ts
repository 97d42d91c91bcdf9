// GEPA merge rules (gepa: proposer/merge.py), each branch on a hand-built lineage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.ts';
import {
  ancestorsOf,
  combineThroughAncestor,
  eligibleAncestors,
  findMergeTriplet,
  hasDesirableComponent,
  mergeSubsample,
  proposeMerge,
  tripletKey,
  type Lineage,
  type MergeMemory,
} from '../../src/trainingfree/gepa/merge.ts';

const memory = (): MergeMemory => ({ triedTriplets: new Set(), triedCompositions: new Set() });

// p0 seed; p1 and p2 are both children of p0; p3 is a child of p1
const lineage: Lineage = {
  programs: [
    { a: 'a0', b: 'b0', c: 'c0', d: 'd0', e: 'e0' },
    { a: 'a1', b: 'b0', c: 'c1', d: 'd1', e: 'e0' },
    { a: 'a0', b: 'b2', c: 'c2', d: 'd2', e: 'e0' },
    { a: 'a3', b: 'b0', c: 'c1', d: 'd1', e: 'e0' },
  ],
  parents: [[null], [0], [0], [1]],
  scores: [0.2, 0.5, 0.6, 0.55],
};

test('ancestors follow every parent link', () => {
  assert.deepEqual([...ancestorsOf(3, lineage.parents)].sort(), [0, 1]);
  assert.deepEqual([...ancestorsOf(0, lineage.parents)], []);
  assert.deepEqual([...ancestorsOf(4, [[null], [0], [0], [1], [2, 3]])].sort(), [0, 1, 2, 3]);
});

test('component rules: evolved-vs-unchanged takes the evolved text; both evolved takes the better child; both unchanged takes i', () => {
  const { program, sources } = combineThroughAncestor(lineage, 1, 2, 0, new Rng(0));
  // a: j kept a0 → i's a1. b: i kept b0 → j's b2. c, d: both changed → j (0.6 > 0.5). e: both kept → i's.
  assert.deepEqual(program, { a: 'a1', b: 'b2', c: 'c2', d: 'd2', e: 'e0' });
  assert.deepEqual(sources, [1, 2, 2, 2, 1]);
});

test('both children changed and equally scored: a seeded coin decides, and both outcomes occur', () => {
  const tied: Lineage = { ...lineage, scores: [0.2, 0.5, 0.5, 0.5] };
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 20; seed++) outcomes.add(combineThroughAncestor(tied, 1, 2, 0, new Rng(seed)).program.c);
  assert.deepEqual([...outcomes].sort(), ['c1', 'c2']);
  assert.deepEqual(
    combineThroughAncestor(tied, 1, 2, 0, new Rng(5)),
    combineThroughAncestor(tied, 1, 2, 0, new Rng(5)),
  );
});

test('ancestor eligibility: not better than either child, not tried, and with a desirable component', () => {
  assert.equal(hasDesirableComponent(lineage.programs, 0, 1, 2), true);
  const allChanged = [{ a: 'x' }, { a: 'y' }, { a: 'z' }];
  assert.equal(hasDesirableComponent(allChanged, 0, 1, 2), false);
  assert.deepEqual(eligibleAncestors(1, 2, [0], lineage, memory()), [0]);
  assert.deepEqual(
    eligibleAncestors(1, 2, [0], { ...lineage, scores: [0.55, 0.5, 0.6, 0.5] }, memory()),
    [],
    'ancestor scores above child 1',
  );
  const m = memory();
  m.triedTriplets.add(tripletKey(1, 2, 0));
  assert.deepEqual(eligibleAncestors(1, 2, [0], lineage, m), [], 'triplet already merged');
  assert.deepEqual(
    eligibleAncestors(1, 2, [0], { ...lineage, programs: [{ a: 'x' }, { a: 'y' }, { a: 'z' }, { a: 'w' }] }, memory()),
    [],
    'no desirable component',
  );
});

test('no merge between a program and its own descendant', () => {
  assert.equal(findMergeTriplet([1, 3], lineage, memory(), new Rng(0)), null);
  assert.equal(findMergeTriplet([0, 2], lineage, memory(), new Rng(0)), null);
  assert.deepEqual(findMergeTriplet([1, 2], lineage, memory(), new Rng(0)), [1, 2, 0]);
  assert.deepEqual(findMergeTriplet([2, 1], lineage, memory(), new Rng(9)), [1, 2, 0], 'pairs are ordered i < j');
});

test('the common ancestor is drawn with probability proportional to its score', () => {
  // p0 (0.1) → p1 (0.3) → {p2 (0.8), p3 (0.9)}: common ancestors of p2, p3 are p0 and p1; P(p1) = 0.3 / 0.4 = 0.75
  const deep: Lineage = {
    programs: [
      { a: 'a0', b: 'b0' },
      { a: 'a0', b: 'b0' },
      { a: 'a2', b: 'b0' },
      { a: 'a0', b: 'b3' },
    ],
    parents: [[null], [0], [1], [1]],
    scores: [0.1, 0.3, 0.8, 0.9],
  };
  const rng = new Rng(99);
  let p1 = 0;
  const draws = 4000;
  for (let k = 0; k < draws; k++) if (findMergeTriplet([2, 3], deep, memory(), rng)![2] === 1) p1++;
  // standard error sqrt(0.75·0.25/4000) ≈ 0.007; tolerance 0.03
  assert.ok(Math.abs(p1 / draws - 0.75) < 0.03, `P(ancestor p1) = ${p1 / draws}`);
});

test('proposeMerge: needs two candidates and three programs; skips tried triplets and compositions', () => {
  assert.equal(
    proposeMerge([1, 2], { ...lineage, programs: lineage.programs.slice(0, 2) }, memory(), new Rng(0)),
    null,
  );
  assert.equal(proposeMerge([1], lineage, memory(), new Rng(0)), null);
  const m = memory();
  const first = proposeMerge([1, 2], lineage, m, new Rng(0));
  assert.ok(first);
  assert.deepEqual([first.i, first.j, first.ancestor, first.sources], [1, 2, 0, [1, 2, 2, 2, 1]]);
  assert.ok(m.triedCompositions.has('1,2|1,2,2,2,1'));
  // the same composition again is skipped (the only ancestor yields the only composition)
  assert.equal(proposeMerge([1, 2], lineage, m, new Rng(1)), null);
  // a tried triplet leaves no ancestor at all
  const m2 = memory();
  m2.triedTriplets.add(tripletKey(1, 2, 0));
  assert.equal(proposeMerge([1, 2], lineage, m2, new Rng(0)), null);
});

test('a composition identical to one of its parents is not proposed', () => {
  // a: j kept a0 → i's; b: both changed, i better → i's: the merge would just be p1 again
  const same: Lineage = {
    programs: [
      { a: 'a0', b: 'b0' },
      { a: 'a1', b: 'b1' },
      { a: 'a0', b: 'b2' },
    ],
    parents: [[null], [0], [0]],
    scores: [0.1, 0.9, 0.5],
  };
  assert.equal(proposeMerge([1, 2], same, memory(), new Rng(0)), null);
});

test('merge subsample: up to ⌈n/3⌉ where i wins, where j wins, where they tie; filled with repeats only when too few', () => {
  const i = [1, 0, 1, 0, 0.5, 0.5];
  const j = [0, 1, 0, 1, 0.5, 0.5];
  const ids = mergeSubsample(i, j, 5, new Rng(4));
  // buckets {0,2} {1,3} {4,5}, 2 from each until 5 are chosen: all of 0..3 and one of 4, 5
  assert.equal(ids.length, 5);
  assert.equal(new Set(ids).size, 5);
  for (const k of [0, 1, 2, 3]) assert.ok(ids.includes(k));
  const few = mergeSubsample([1, 0], [0, 1], 5, new Rng(4));
  assert.equal(few.length, 5);
  assert.ok(few.includes(0) && few.includes(1) && few.every((k) => k === 0 || k === 1));
});
