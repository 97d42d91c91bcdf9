/**
 * One GEPA search in progress (gepa-ai/gepa: src/gepa/core/engine.py, GEPAEngine): its options and what it runs
 * with, the state it saves, the RNG and merge memory beside it, the budget check that ends it, and each
 * iteration's record and progress line. The steps of an iteration are merge-step.ts and reflective-mutation.ts.
 */
import { existsSync } from 'node:fs';
import { GrpoError } from '../../errors.ts';
import { Rng } from '../../util/rng.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { GepaAdapter } from './adapter.ts';
import type { ReflectiveRecord } from './instruction-proposal.ts';
import type { MergeMemory } from './merge.ts';
import { bestProgram, programsEqual, type CandidateSelection, type Program } from './pareto.ts';
import {
  addProgram,
  aggregateScores,
  checkConsistent,
  initialState,
  loadState,
  saveState,
  type GepaState,
} from './state.ts';

export type AcceptanceCriterion = 'strict_improvement' | 'improvement_or_equal';
export type ModuleSelector = 'round_robin' | 'all';

export interface GepaSearchOptions {
  maxMetricCalls: number;
  maxIterations: number | null;
  reflectionMinibatchSize: number;
  candidateSelection: CandidateSelection;
  epsilon: number;
  moduleSelector: ModuleSelector;
  acceptance: AcceptanceCriterion;
  skipPerfectScore: boolean;
  perfectScore: number;
  useMerge: boolean;
  maxMergeInvocations: number;
  mergeSubsampleSize: number;
  seed: number;
  /** where state is saved each iteration; null = not saved */
  statePath: string | null;
  /** continue from statePath when it exists */
  resume: boolean;
  /** the run stops at the next iteration once this file exists (gepa: FileStopper) */
  stopFile: string | null;
}

export interface GepaLog {
  line(text: string): void;
  metrics(record: Record<string, unknown>): void;
  warn(text: string): void;
}

export interface GepaSearchDeps {
  adapter: GepaAdapter;
  /** new texts for the named components (gepa: propose_new_texts) */
  propose: (
    program: Program,
    dataset: Record<string, ReflectiveRecord[]>,
    components: readonly string[],
  ) => Promise<Record<string, string>>;
  trainset: readonly TaskExample[];
  valset: readonly TaskExample[];
  seedProgram: Program;
  log: GepaLog;
}

/** One iteration: its metrics record, which the steps fill in, and the progress line that ends it. */
export interface SearchIteration {
  index: number;
  record: Record<string, unknown>;
  /** logs `what` happened with the best program so far, and the record */
  progress(what: string): void;
}

export const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0);

/** The saved state to resume from, or a new one with the seed program scored on the validation set. */
async function startState(deps: GepaSearchDeps, opts: GepaSearchOptions): Promise<GepaState> {
  const valIds = deps.valset.map((e) => e.id);
  if (opts.resume && opts.statePath) {
    const saved = loadState(opts.statePath);
    if (saved) {
      const sameSeed = programsEqual(saved.programs[0], deps.seedProgram);
      const sameVal = saved.valIds.length === valIds.length && saved.valIds.every((id, k) => id === valIds[k]);
      const sameTrain = saved.sampler.uses.length === deps.trainset.length;
      if (!sameSeed || !sameVal || !sameTrain) {
        throw new GrpoError(
          'gepa',
          `${opts.statePath} belongs to a run with a different ${!sameSeed ? 'seed program' : !sameVal ? 'validation set' : 'training set'}; use another out_dir or set resume: false`,
        );
      }
      deps.log.line(
        `gepa: resuming at iteration ${saved.iteration} with ${saved.programs.length} program(s), ${saved.totalMetricCalls} metric calls spent`,
      );
      return saved;
    }
  }
  const seedEval = await deps.adapter.evaluate(deps.valset, deps.seedProgram, false);
  return initialState(deps.seedProgram, valIds, seedEval.scores, deps.trainset.length, new Rng(opts.seed).state);
}

export class SearchRun {
  readonly rng: Rng;
  readonly mergeMemory: MergeMemory;
  /** reflections that failed in a row */
  proposalFailuresInARow = 0;

  private constructor(
    readonly deps: GepaSearchDeps,
    readonly opts: GepaSearchOptions,
    readonly state: GepaState,
  ) {
    this.rng = new Rng(state.rngState);
    this.mergeMemory = {
      triedTriplets: new Set(state.merge.triedTriplets),
      triedCompositions: new Set(state.merge.triedCompositions),
    };
  }

  static async start(deps: GepaSearchDeps, opts: GepaSearchOptions): Promise<SearchRun> {
    const run = new SearchRun(deps, opts, await startState(deps, opts));
    const { state } = run;
    if (state.iteration === 0 && state.programs.length === 1) {
      deps.log.line(
        `gepa: seed program scores ${aggregateScores(state)[0].toFixed(3)} on ${deps.valset.length} validation example(s)`,
      );
      deps.log.metrics({ event: 'seed', val_score: aggregateScores(state)[0], metric_calls: state.totalMetricCalls });
    }
    return run;
  }

  /** writes the RNG and the merge memory into the state, and the state to its file */
  save(): void {
    const { state, mergeMemory } = this;
    state.rngState = this.rng.state;
    state.merge.triedTriplets = [...mergeMemory.triedTriplets];
    state.merge.triedCompositions = [...mergeMemory.triedCompositions];
    if (this.opts.statePath) saveState(this.opts.statePath, state);
  }

  /** why the search stops before the next iteration, or null to go on */
  stopReason(): string | null {
    const { state, opts } = this;
    if (state.totalMetricCalls >= opts.maxMetricCalls)
      return `budget of ${opts.maxMetricCalls} metric calls used (${state.totalMetricCalls})`;
    if (opts.maxIterations !== null && state.iteration >= opts.maxIterations)
      return `max_iterations ${opts.maxIterations} reached`;
    if (opts.stopFile && existsSync(opts.stopFile)) return `stop file ${opts.stopFile} found`;
    return null;
  }

  /** scores an accepted program on the whole validation set and adds it to the pool and front */
  async addAccepted(program: Program, parents: number[]): Promise<number> {
    const { state, deps } = this;
    const discoveredAt = state.totalMetricCalls;
    const ev = await deps.adapter.evaluate(deps.valset, program, false);
    state.totalMetricCalls += deps.valset.length;
    return addProgram(state, program, parents, ev.scores, discoveredAt);
  }

  /** checks and saves the state, so that a killed run replays this iteration, then counts the iteration */
  beginIteration(): SearchIteration {
    const { state, opts, deps } = this;
    checkConsistent(state);
    this.save();
    const index = state.iteration;
    state.iteration++;
    const record: Record<string, unknown> = { event: 'iteration', iteration: index };
    const progress = (what: string) => {
      const agg = aggregateScores(state);
      const best = bestProgram(agg);
      deps.log.line(
        `iter ${index} | ${what} | best val ${agg[best].toFixed(3)} (program ${best}) | programs ${state.programs.length} | metric calls ${state.totalMetricCalls}/${opts.maxMetricCalls}`,
      );
      deps.log.metrics({
        ...record,
        best_val_score: agg[best],
        best_program: best,
        programs: state.programs.length,
        metric_calls: state.totalMetricCalls,
      });
    };
    return { index, record, progress };
  }
}
