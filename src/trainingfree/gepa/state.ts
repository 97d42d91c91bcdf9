/**
 * Everything a GEPA run needs to continue where it stopped (gepa-ai/gepa: src/gepa/core/state.py, GEPAState),
 * as plain JSON: candidates, lineage, validation scores, the instance front, round-robin pointers, budget
 * used, and the RNG, sampler and merge bookkeeping. Saved atomically at the start of every iteration and at
 * the end, so a killed run resumes at the iteration it was in and replays it exactly.
 * Every program is scored on the whole validation set (gepa's FullEvaluationPolicy).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mean } from '../../algorithms/stats.ts';
import { GrpoError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { newSamplerState, type SamplerState } from './batch-sampler.ts';
import { addToFront, newInstanceFront, type InstanceFront, type Program } from './pareto.ts';

export const GEPA_STATE_VERSION = 1;

export interface MergeState {
  /** merges allowed to run now (one is scheduled per accepted reflective proposal) */
  due: number;
  /** merges accepted so far (capped by max_merge_invocations) */
  accepted: number;
  /** a merge is only attempted right after an iteration that found a new program */
  lastIterationFoundProgram: boolean;
  triedTriplets: string[];
  triedCompositions: string[];
}

export interface GepaState {
  version: number;
  componentNames: string[];
  /** ids of the validation examples, to refuse resuming against a different validation set */
  valIds: string[];
  programs: Program[];
  parents: (number | null)[][];
  /** validation score of each program on each instance */
  valScores: number[][];
  front: InstanceFront;
  /** round-robin pointer: the component each program mutates next */
  nextComponent: number[];
  /** metric calls spent when each program was found */
  discoveredAtMetricCalls: number[];
  /** iterations started so far */
  iteration: number;
  totalMetricCalls: number;
  rngState: number;
  sampler: SamplerState;
  merge: MergeState;
}

export function aggregateScores(state: GepaState): number[] {
  return state.valScores.map((s) => mean(s, NaN));
}

/** The state after scoring the seed program on the validation set (`seedCalls` metric calls). */
export function initialState(
  seed: Program,
  valIds: string[],
  seedScores: number[],
  trainSize: number,
  rngState: number,
): GepaState {
  const front = newInstanceFront(valIds.length);
  addToFront(front, 0, seedScores);
  return {
    version: GEPA_STATE_VERSION,
    componentNames: Object.keys(seed),
    valIds,
    programs: [{ ...seed }],
    parents: [[null]],
    valScores: [seedScores.slice()],
    front,
    nextComponent: [0],
    discoveredAtMetricCalls: [0],
    iteration: 0,
    totalMetricCalls: seedScores.length,
    rngState,
    sampler: newSamplerState(trainSize),
    merge: { due: 0, accepted: 0, lastIterationFoundProgram: false, triedTriplets: [], triedCompositions: [] },
  };
}

/** Adds an accepted program with its full validation scores; returns its index (gepa: update_state_with_new_program). */
export function addProgram(
  state: GepaState,
  program: Program,
  parents: number[],
  valScores: number[],
  discoveredAtMetricCalls: number,
): number {
  const idx = state.programs.length;
  state.programs.push({ ...program });
  state.parents.push(parents.slice());
  state.valScores.push(valScores.slice());
  // the child continues its parents' round-robin where they left off
  state.nextComponent.push(Math.max(0, ...parents.map((p) => state.nextComponent[p])));
  state.discoveredAtMetricCalls.push(discoveredAtMetricCalls);
  addToFront(state.front, idx, valScores);
  return idx;
}

export function checkConsistent(state: GepaState): void {
  const n = state.programs.length;
  const ok =
    state.parents.length === n &&
    state.valScores.length === n &&
    state.nextComponent.length === n &&
    state.discoveredAtMetricCalls.length === n &&
    state.front.scores.length === state.valIds.length &&
    state.valScores.every((s) => s.length === state.valIds.length) &&
    state.front.programs.every((f) => f.every((p) => p < n));
  if (!ok)
    throw new GrpoError(
      'gepa',
      'GEPA state is inconsistent (lengths of programs, parents, scores or fronts disagree); the state file is damaged',
    );
}

export function saveState(path: string, state: GepaState): void {
  writeFileAtomic(path, `${JSON.stringify(state)}\n`);
}

export function loadState(path: string): GepaState | null {
  if (!existsSync(path)) return null;
  let state: GepaState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as GepaState;
  } catch (e) {
    throw new GrpoError('io', `cannot read GEPA state ${path}: ${(e as Error).message}; delete it to start over`);
  }
  if (state.version !== GEPA_STATE_VERSION)
    throw new GrpoError(
      'gepa',
      `${path} has state version ${state.version}, this grpo-ts writes ${GEPA_STATE_VERSION}; use a new out_dir`,
    );
  checkConsistent(state);
  return state;
}
