/**
 * GEPA's instance-level Pareto front and parent selection (gepa-ai/gepa: src/gepa/gepa_utils.py, core/state.py).
 *
 * For each validation instance the front holds every program that reached the best score seen on it.
 * Selection first drops dominated programs: visiting programs by ascending aggregate score, a program is
 * dominated when every front containing it also contains another surviving program; one is removed at a time
 * and the scan restarts, so every non-empty front keeps at least one program. The parent is then drawn
 * uniformly from a list holding each survivor once per front it is on — frequency-weighted sampling, which
 * favours programs that are best on many instances while keeping specialists alive.
 *
 * Orders are made explicit where Python relies on set/dict order: fronts are visited by instance index,
 * programs in a front ascending, ties in aggregate score broken by program index.
 */
import { GrpoError } from '../../errors.ts';
import type { Rng } from '../../util/rng.ts';

/** Text components by name, e.g. { instructions: "You are …" }. */
export type Program = Record<string, string>;

export function programsEqual(a: Program, b: Program): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export interface InstanceFront {
  /** best score seen on each validation instance */
  scores: number[];
  /** the programs that reached it, ascending */
  programs: number[][];
}

export function newInstanceFront(instances: number): InstanceFront {
  return {
    scores: Array(instances).fill(Number.NEGATIVE_INFINITY),
    programs: Array.from({ length: instances }, () => []),
  };
}

/** Adds a program's per-instance validation scores: a strictly better score replaces the front, a tie joins it. */
export function addToFront(front: InstanceFront, program: number, scores: readonly number[]): void {
  if (scores.length !== front.scores.length)
    throw new GrpoError(
      'gepa',
      `program ${program} has ${scores.length} validation scores, the front has ${front.scores.length} instances`,
    );
  scores.forEach((s, i) => {
    if (s > front.scores[i]) {
      front.scores[i] = s;
      front.programs[i] = [program];
    } else if (s === front.scores[i] && !front.programs[i].includes(program)) {
      front.programs[i].push(program);
      front.programs[i].sort((a, b) => a - b);
    }
  });
}

/** True when every front containing `y` also contains a program from `others` (gepa: is_dominated). */
export function isDominated(y: number, others: ReadonlySet<number>, fronts: readonly (readonly number[])[]): boolean {
  for (const front of fronts) {
    if (!front.includes(y)) continue;
    if (!front.some((p) => p !== y && others.has(p))) return false;
  }
  return true;
}

/** The fronts without dominated programs (gepa: remove_dominated_programs). */
export function removeDominatedPrograms(
  fronts: readonly (readonly number[])[],
  aggregateScores: readonly number[],
): number[][] {
  const onFronts = [...new Set(fronts.flat())];
  const programs = onFronts.sort((a, b) => aggregateScores[a] - aggregateScores[b] || a - b);
  const dominated = new Set<number>();
  let removed = true;
  while (removed) {
    removed = false;
    for (const y of programs) {
      if (dominated.has(y)) continue;
      const others = new Set(programs.filter((p) => p !== y && !dominated.has(p)));
      if (isDominated(y, others, fronts)) {
        dominated.add(y);
        removed = true;
        break;
      }
    }
  }
  return fronts.map((f) => f.filter((p) => !dominated.has(p)));
}

/** Survivors of dominance removal with how many fronts each is on, in first-appearance order. */
export function frontFrequencies(
  fronts: readonly (readonly number[])[],
  aggregateScores: readonly number[],
): Map<number, number> {
  const freq = new Map<number, number>();
  for (const front of removeDominatedPrograms(fronts, aggregateScores))
    for (const p of front) freq.set(p, (freq.get(p) ?? 0) + 1);
  return freq;
}

/** Index of the best aggregate score (the first on ties). */
export function bestProgram(aggregateScores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < aggregateScores.length; i++) if (aggregateScores[i] > aggregateScores[best]) best = i;
  return best;
}

/** Frequency-weighted draw from the non-dominated front (gepa: select_program_candidate_from_pareto_front). */
export function selectParetoCandidate(
  fronts: readonly (readonly number[])[],
  aggregateScores: readonly number[],
  rng: Rng,
): number {
  const samplingList: number[] = [];
  for (const [p, n] of frontFrequencies(fronts, aggregateScores)) for (let k = 0; k < n; k++) samplingList.push(p);
  if (samplingList.length === 0) return bestProgram(aggregateScores);
  return samplingList[rng.int(samplingList.length)];
}

/** Programs on any front after dominance removal, ascending (gepa: find_dominator_programs; merge candidates). */
export function dominatorPrograms(
  fronts: readonly (readonly number[])[],
  aggregateScores: readonly number[],
): number[] {
  return [...frontFrequencies(fronts, aggregateScores).keys()].sort((a, b) => a - b);
}

export type CandidateSelection = 'pareto' | 'current_best' | 'epsilon_greedy';

/** Parent selection by strategy; epsilon_greedy explores uniformly with probability `epsilon` (gepa default 0.1). */
export function selectCandidate(
  strategy: CandidateSelection,
  fronts: readonly (readonly number[])[],
  aggregateScores: readonly number[],
  rng: Rng,
  epsilon = 0.1,
): number {
  switch (strategy) {
    case 'pareto':
      return selectParetoCandidate(fronts, aggregateScores, rng);
    case 'current_best':
      return bestProgram(aggregateScores);
    case 'epsilon_greedy':
      return rng.next() < epsilon ? rng.int(aggregateScores.length) : bestProgram(aggregateScores);
  }
}
