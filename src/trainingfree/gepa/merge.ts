/**
 * GEPA's system-aware merge (gepa-ai/gepa: src/gepa/proposer/merge.py). Two programs i, j from the
 * non-dominated front that descend from a common ancestor a, where neither is an ancestor of the other, are
 * combined component by component:
 *   - one child still equals a and the children differ → take the other child's text (the one that evolved)
 *   - both children differ from a                        → take the higher-scoring child's text, random on ties
 *   - otherwise (both children still equal a)            → take i's text
 * An ancestor qualifies when score(a) ≤ score(i) and score(a) ≤ score(j) and at least one component is
 * "desirable" (equal to a in one child, different in the other); among qualifying ancestors one is drawn with
 * probability proportional to its score. Tried (i, j, a) triplets and tried (i, j, sources) compositions are
 * skipped. Divergences: zero total weight draws uniformly (Python's random.choices raises); a composition
 * identical to i or j is skipped, since evaluating it would only re-measure a known program.
 */
import type { Rng } from '../../util/rng.ts';
import { programsEqual, type Program } from './pareto.ts';

export interface Lineage {
  programs: readonly Program[];
  /** parents of each program; the seed has [null] */
  parents: readonly (readonly (number | null)[])[];
  /** aggregate validation score of each program */
  scores: readonly number[];
}

export interface MergeMemory {
  /** "i,j,a" of every triplet already merged */
  triedTriplets: Set<string>;
  /** "i,j|s1,s2,…" of every composition already proposed */
  triedCompositions: Set<string>;
}

export interface MergeProposal {
  program: Program;
  i: number;
  j: number;
  ancestor: number;
  /** which program each component came from, in component order */
  sources: number[];
}

/** All ancestors of `node` (not including itself). */
export function ancestorsOf(node: number, parents: Lineage['parents']): Set<number> {
  const found = new Set<number>();
  const stack = [node];
  while (stack.length > 0) {
    for (const p of parents[stack.pop()!]) {
      if (p !== null && !found.has(p)) {
        found.add(p);
        stack.push(p);
      }
    }
  }
  return found;
}

/** Some component equals the ancestor's in one child and differs between the children. */
export function hasDesirableComponent(programs: Lineage['programs'], ancestor: number, i: number, j: number): boolean {
  return Object.keys(programs[ancestor]).some((name) => {
    const a = programs[ancestor][name];
    const x = programs[i][name];
    const y = programs[j][name];
    return (a === x || a === y) && x !== y;
  });
}

export function tripletKey(i: number, j: number, a: number): string {
  return `${i},${j},${a}`;
}

/** Common ancestors that may serve for merging i and j (gepa: filter_ancestors), ascending. */
export function eligibleAncestors(
  i: number,
  j: number,
  common: Iterable<number>,
  lineage: Lineage,
  memory: MergeMemory,
): number[] {
  return [...common]
    .filter((a) => !memory.triedTriplets.has(tripletKey(i, j, a)))
    .filter((a) => lineage.scores[a] <= lineage.scores[i] && lineage.scores[a] <= lineage.scores[j])
    .filter((a) => hasDesirableComponent(lineage.programs, a, i, j))
    .sort((x, y) => x - y);
}

/** k distinct elements drawn uniformly (Python's random.sample). */
export function sampleDistinct<T>(xs: readonly T[], k: number, rng: Rng): T[] {
  const pool = xs.slice();
  const out: T[] = [];
  for (let n = 0; n < k && pool.length > 0; n++) out.push(pool.splice(rng.int(pool.length), 1)[0]);
  return out;
}

/** Index drawn with probability ∝ weight; uniform when the weights sum to zero or less. */
export function weightedIndex(weights: readonly number[], rng: Rng): number {
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (!(total > 0)) return rng.int(weights.length);
  let u = rng.next() * total;
  for (let k = 0; k < weights.length; k++) {
    u -= Math.max(0, weights[k]);
    if (u < 0) return k;
  }
  return weights.length - 1;
}

/** A pair of candidates and the ancestor to merge them through (gepa: find_common_ancestor_pair). */
export function findMergeTriplet(
  candidates: readonly number[],
  lineage: Lineage,
  memory: MergeMemory,
  rng: Rng,
  maxAttempts = 10,
): [number, number, number] | null {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (candidates.length < 2) return null;
    let [i, j] = sampleDistinct(candidates, 2, rng);
    if (j < i) [i, j] = [j, i];
    const ai = ancestorsOf(i, lineage.parents);
    const aj = ancestorsOf(j, lineage.parents);
    if (ai.has(j) || aj.has(i)) continue; // one descends from the other: nothing to combine
    const common = [...ai].filter((a) => aj.has(a));
    const eligible = eligibleAncestors(i, j, common, lineage, memory);
    if (eligible.length > 0)
      return [
        i,
        j,
        eligible[
          weightedIndex(
            eligible.map((a) => lineage.scores[a]),
            rng,
          )
        ],
      ];
  }
  return null;
}

/** The component-wise combination of i and j through ancestor a. */
export function combineThroughAncestor(
  lineage: Lineage,
  i: number,
  j: number,
  a: number,
  rng: Rng,
): { program: Program; sources: number[] } {
  const program: Program = { ...lineage.programs[a] };
  const sources: number[] = [];
  for (const name of Object.keys(lineage.programs[a])) {
    const anc = lineage.programs[a][name];
    const x = lineage.programs[i][name];
    const y = lineage.programs[j][name];
    let from: number;
    if ((anc === x || anc === y) && x !== y) from = anc === x ? j : i;
    else if (anc !== x && anc !== y) {
      const si = lineage.scores[i];
      const sj = lineage.scores[j];
      from = si > sj ? i : sj > si ? j : rng.int(2) === 0 ? i : j;
    } else from = i; // x === y
    program[name] = lineage.programs[from][name];
    sources.push(from);
  }
  return { program, sources };
}

/** A new merge proposal, or null when none can be found (gepa: sample_and_attempt_merge_programs_by_common_predictors). */
export function proposeMerge(
  candidates: readonly number[],
  lineage: Lineage,
  memory: MergeMemory,
  rng: Rng,
  maxAttempts = 10,
): MergeProposal | null {
  if (candidates.length < 2 || lineage.programs.length < 3) return null;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const triplet = findMergeTriplet(candidates, lineage, memory, rng);
    if (triplet === null) continue;
    const [i, j, ancestor] = triplet;
    const { program, sources } = combineThroughAncestor(lineage, i, j, ancestor, rng);
    const key = `${i},${j}|${sources.join(',')}`;
    if (memory.triedCompositions.has(key)) continue;
    if (programsEqual(program, lineage.programs[i]) || programsEqual(program, lineage.programs[j])) continue;
    memory.triedCompositions.add(key);
    return { program, i, j, ancestor, sources };
  }
  return null;
}

/**
 * Validation instances to compare the merged program with its parents on (gepa: MergeProposer.
 * select_eval_subsample_for_merged_program): up to ⌈n/3⌉ where i wins, where j wins, and where they tie,
 * then filled from the rest (with repetition only when there are fewer instances than n).
 */
export function mergeSubsample(scoresI: readonly number[], scoresJ: readonly number[], n: number, rng: Rng): number[] {
  const ids = scoresI.map((_, k) => k);
  const buckets = [
    ids.filter((k) => scoresI[k] > scoresJ[k]),
    ids.filter((k) => scoresJ[k] > scoresI[k]),
    ids.filter((k) => scoresI[k] === scoresJ[k]),
  ];
  const perBucket = Math.max(1, Math.ceil(n / 3));
  const selected: number[] = [];
  for (const bucket of buckets) {
    if (selected.length >= n) break;
    const available = bucket.filter((k) => !selected.includes(k));
    const take = Math.min(available.length, perBucket, n - selected.length);
    if (take > 0) selected.push(...sampleDistinct(available, take, rng));
  }
  const remaining = n - selected.length;
  if (remaining > 0) {
    const unused = ids.filter((k) => !selected.includes(k));
    if (unused.length >= remaining) selected.push(...sampleDistinct(unused, remaining, rng));
    else for (let r = 0; r < remaining; r++) selected.push(ids[rng.int(ids.length)]);
  }
  return selected.slice(0, n);
}
