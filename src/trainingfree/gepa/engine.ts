/**
 * The GEPA optimisation loop (gepa-ai/gepa: src/gepa/core/engine.py, proposer/reflective_mutation/
 * reflective_mutation.py, proposer/merge.py). Each iteration, while metric calls remain:
 *   - merge (when enabled, due, and the previous iteration found a program): combine two front programs
 *     through a common ancestor, score it on a subsample, accept if Σ ≥ the better parent's Σ; either way the
 *     iteration ends there;
 *   - otherwise reflective mutation: pick a parent from the Pareto front, run it on a training minibatch with
 *     traces, skip if every score is perfect, rewrite one component (round robin) from the feedback, run the
 *     child on the same minibatch and accept on Σ new > Σ old (or ≥ with improvement_or_equal).
 * An accepted program is scored on the whole validation set and joins the front. Budget = metric calls:
 * every (program, example) evaluation counts one; the budget is checked at the start of each iteration, so
 * the last iteration may overshoot it, as in gepa.
 */
import { existsSync } from 'node:fs';
import { GrpoError } from '../../errors.ts';
import { Rng } from '../../util/rng.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { GepaAdapter } from './adapter.ts';
import { nextMinibatch } from './batch-sampler.ts';
import type { ReflectiveRecord } from './instruction-proposal.ts';
import { mergeSubsample, proposeMerge, tripletKey, type MergeMemory } from './merge.ts';
import {
  bestProgram,
  dominatorPrograms,
  programsEqual,
  selectCandidate,
  type CandidateSelection,
  type Program,
} from './pareto.ts';
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

export interface GepaEngineOptions {
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

export interface GepaEngineDeps {
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

/** gepa: StrictImprovementAcceptance / ImprovementOrEqualAcceptance, on minibatch sums. */
export function isAccepted(
  before: readonly number[],
  after: readonly number[],
  criterion: AcceptanceCriterion,
): boolean {
  const b = before.reduce((a, x) => a + x, 0);
  const a = after.reduce((s, x) => s + x, 0);
  return criterion === 'strict_improvement' ? a > b : a >= b;
}

const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0);

/** Components to rewrite this iteration; round robin advances the parent's pointer (gepa: component_selector.py). */
export function selectComponents(state: GepaState, parent: number, selector: ModuleSelector): string[] {
  if (selector === 'all') return state.componentNames.slice();
  const k = state.nextComponent[parent];
  state.nextComponent[parent] = (k + 1) % state.componentNames.length;
  return [state.componentNames[k]];
}

async function startState(deps: GepaEngineDeps, opts: GepaEngineOptions): Promise<GepaState> {
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

export async function runGepaEngine(deps: GepaEngineDeps, opts: GepaEngineOptions): Promise<GepaState> {
  if (Object.keys(deps.seedProgram).length === 0)
    throw new GrpoError('config', 'the seed program has no components; give at least one named text');
  if (deps.trainset.length === 0 || deps.valset.length === 0)
    throw new GrpoError('config', 'GEPA needs a non-empty training and validation set');
  const { adapter, log, valset, trainset } = deps;
  const state = await startState(deps, opts);
  const rng = new Rng(state.rngState);
  const memory: MergeMemory = {
    triedTriplets: new Set(state.merge.triedTriplets),
    triedCompositions: new Set(state.merge.triedCompositions),
  };
  const save = () => {
    state.rngState = rng.state;
    state.merge.triedTriplets = [...memory.triedTriplets];
    state.merge.triedCompositions = [...memory.triedCompositions];
    if (opts.statePath) saveState(opts.statePath, state);
  };
  if (state.iteration === 0 && state.programs.length === 1) {
    log.line(
      `gepa: seed program scores ${aggregateScores(state)[0].toFixed(3)} on ${valset.length} validation example(s)`,
    );
    log.metrics({ event: 'seed', val_score: aggregateScores(state)[0], metric_calls: state.totalMetricCalls });
  }

  /** scores an accepted program on the whole validation set and adds it to the pool and front */
  const addAccepted = async (program: Program, parents: number[]): Promise<number> => {
    const discoveredAt = state.totalMetricCalls;
    const ev = await adapter.evaluate(valset, program, false);
    state.totalMetricCalls += valset.length;
    return addProgram(state, program, parents, ev.scores, discoveredAt);
  };

  const shouldStop = (): string | null => {
    if (state.totalMetricCalls >= opts.maxMetricCalls)
      return `budget of ${opts.maxMetricCalls} metric calls used (${state.totalMetricCalls})`;
    if (opts.maxIterations !== null && state.iteration >= opts.maxIterations)
      return `max_iterations ${opts.maxIterations} reached`;
    if (opts.stopFile && existsSync(opts.stopFile)) return `stop file ${opts.stopFile} found`;
    return null;
  };

  let consecutiveProposalFailures = 0;
  let stopReason: string | null;
  while ((stopReason = shouldStop()) === null) {
    checkConsistent(state);
    save();
    const it = state.iteration;
    state.iteration++;
    const record: Record<string, unknown> = { event: 'iteration', iteration: it };
    const progress = (what: string) => {
      const agg = aggregateScores(state);
      const best = bestProgram(agg);
      log.line(
        `iter ${it} | ${what} | best val ${agg[best].toFixed(3)} (program ${best}) | programs ${state.programs.length} | metric calls ${state.totalMetricCalls}/${opts.maxMetricCalls}`,
      );
      log.metrics({
        ...record,
        best_val_score: agg[best],
        best_program: best,
        programs: state.programs.length,
        metric_calls: state.totalMetricCalls,
      });
    };

    // 1) merge, when one is due right after a new program was found
    if (opts.useMerge && state.merge.due > 0 && state.merge.lastIterationFoundProgram) {
      state.merge.lastIterationFoundProgram = false;
      const agg = aggregateScores(state);
      const candidates = dominatorPrograms(state.front.programs, agg);
      const proposal = proposeMerge(
        candidates,
        { programs: state.programs, parents: state.parents, scores: agg },
        memory,
        rng,
      );
      if (proposal) {
        memory.triedTriplets.add(tripletKey(proposal.i, proposal.j, proposal.ancestor));
        const ids = mergeSubsample(
          state.valScores[proposal.i],
          state.valScores[proposal.j],
          opts.mergeSubsampleSize,
          rng,
        );
        const ev = await adapter.evaluate(
          ids.map((k) => valset[k]),
          proposal.program,
          false,
        );
        state.totalMetricCalls += ids.length;
        const parentSums = [
          sum(ids.map((k) => state.valScores[proposal.i][k])),
          sum(ids.map((k) => state.valScores[proposal.j][k])),
        ];
        const accepted = sum(ev.scores) >= Math.max(...parentSums);
        Object.assign(record, {
          kind: 'merge',
          parents: [proposal.i, proposal.j],
          ancestor: proposal.ancestor,
          subsample_before: parentSums,
          subsample_after: sum(ev.scores),
          accepted,
        });
        if (accepted) {
          const idx = await addAccepted(proposal.program, [proposal.i, proposal.j]);
          state.merge.due--;
          state.merge.accepted++;
          Object.assign(record, { new_program: idx, val_score: aggregateScores(state)[idx] });
          progress(
            `merge ${proposal.i}+${proposal.j} via ${proposal.ancestor}: subsample ${sum(ev.scores)} ≥ ${Math.max(...parentSums)}, accepted as program ${idx}`,
          );
        } else {
          progress(
            `merge ${proposal.i}+${proposal.j} via ${proposal.ancestor}: subsample ${sum(ev.scores)} < ${Math.max(...parentSums)}, rejected`,
          );
        }
        continue; // gepa: a merge attempt takes the whole iteration
      }
    }
    if (opts.useMerge) state.merge.lastIterationFoundProgram = false;

    // 2) reflective mutation
    const agg = aggregateScores(state);
    const parent = selectCandidate(opts.candidateSelection, state.front.programs, agg, rng, opts.epsilon);
    const ids = nextMinibatch(state.sampler, it, opts.reflectionMinibatchSize, rng);
    const minibatch = ids.map((k) => trainset[k]);
    const before = await adapter.evaluate(minibatch, state.programs[parent], true);
    state.totalMetricCalls += ids.length;
    Object.assign(record, { kind: 'reflective', parent, minibatch: ids, subsample_before: sum(before.scores) });
    if (opts.skipPerfectScore && before.scores.every((s) => s >= opts.perfectScore)) {
      Object.assign(record, { skipped: 'all minibatch scores perfect' });
      progress(`parent ${parent}: minibatch all perfect (${sum(before.scores)}), skipped`);
      continue;
    }
    const components = selectComponents(state, parent, opts.moduleSelector);
    record.components = components;
    let texts: Record<string, string>;
    try {
      texts = await deps.propose(
        state.programs[parent],
        adapter.makeReflectiveDataset(state.programs[parent], before, components),
        components,
      );
      consecutiveProposalFailures = 0;
    } catch (e) {
      // gepa logs a failed reflection and moves on; three in a row means the reflection model is unusable
      if (++consecutiveProposalFailures >= 3) throw e;
      log.warn(`iteration ${it}: reflection failed, skipped: ${(e as Error).message}`);
      Object.assign(record, { skipped: 'reflection failed' });
      progress(`parent ${parent}: reflection failed, skipped`);
      continue;
    }
    const child: Program = {
      ...state.programs[parent],
      ...Object.fromEntries(Object.entries(texts).filter(([k]) => k in state.programs[parent])),
    };
    if (programsEqual(child, state.programs[parent])) {
      Object.assign(record, { skipped: 'no new text' });
      progress(`parent ${parent} [${components.join(', ')}]: reflection proposed no change, skipped`);
      continue;
    }
    const after = await adapter.evaluate(minibatch, child, false);
    state.totalMetricCalls += ids.length;
    const accepted = isAccepted(before.scores, after.scores, opts.acceptance);
    Object.assign(record, { subsample_after: sum(after.scores), accepted });
    if (!accepted) {
      progress(
        `parent ${parent} [${components.join(', ')}]: minibatch ${sum(before.scores)} → ${sum(after.scores)}, rejected`,
      );
      continue;
    }
    const idx = await addAccepted(child, [parent]);
    Object.assign(record, { new_program: idx, val_score: aggregateScores(state)[idx] });
    if (opts.useMerge) {
      state.merge.lastIterationFoundProgram = true;
      if (state.merge.accepted < opts.maxMergeInvocations) state.merge.due++;
    }
    progress(
      `parent ${parent} [${components.join(', ')}]: minibatch ${sum(before.scores)} → ${sum(after.scores)}, accepted as program ${idx} (val ${aggregateScores(state)[idx].toFixed(3)})`,
    );
  }
  save();
  log.line(`gepa: stopped: ${stopReason}`);
  return state;
}
