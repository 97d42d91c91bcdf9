/**
 * GEPA's reflective mutation (gepa-ai/gepa: src/gepa/proposer/reflective_mutation/reflective_mutation.py): pick a
 * parent from the Pareto front, run it on a training minibatch with traces, skip if every score is perfect,
 * rewrite one component (round robin) from the feedback, run the child on the same minibatch and accept on
 * Σ new > Σ old (or ≥ with improvement_or_equal).
 */
import type { EvaluationBatch } from './adapter.ts';
import { nextMinibatch } from './batch-sampler.ts';
import { programsEqual, selectCandidate, type Program } from './pareto.ts';
import {
  type AcceptanceCriterion,
  type ModuleSelector,
  type SearchIteration,
  type SearchRun,
  sum,
} from './search-run.ts';
import { aggregateScores, type GepaState } from './state.ts';

/** gepa: StrictImprovementAcceptance / ImprovementOrEqualAcceptance, on minibatch sums. */
export function isAccepted(
  before: readonly number[],
  after: readonly number[],
  criterion: AcceptanceCriterion,
): boolean {
  return criterion === 'strict_improvement' ? sum(after) > sum(before) : sum(after) >= sum(before);
}

/** Components to rewrite this iteration; round robin advances the parent's pointer (gepa: component_selector.py). */
export function selectComponents(state: GepaState, parent: number, selector: ModuleSelector): string[] {
  if (selector === 'all') return state.componentNames.slice();
  const k = state.nextComponent[parent];
  state.nextComponent[parent] = (k + 1) % state.componentNames.length;
  return [state.componentNames[k]];
}

/** One reflective mutation: the iteration's parent, minibatch, proposal and its acceptance. */
export async function reflectiveMutation(run: SearchRun, iteration: SearchIteration): Promise<void> {
  const { state, opts, deps } = run;
  const { record, progress } = iteration;
  const parent = selectCandidate(
    opts.candidateSelection,
    state.front.programs,
    aggregateScores(state),
    run.rng,
    opts.epsilon,
  );
  const ids = nextMinibatch(state.sampler, iteration.index, opts.reflectionMinibatchSize, run.rng);
  const minibatch = ids.map((k) => deps.trainset[k]);
  const before = await deps.adapter.evaluate(minibatch, state.programs[parent], true);
  state.totalMetricCalls += ids.length;
  Object.assign(record, { kind: 'reflective', parent, minibatch: ids, subsample_before: sum(before.scores) });
  if (opts.skipPerfectScore && before.scores.every((s) => s >= opts.perfectScore)) {
    Object.assign(record, { skipped: 'all minibatch scores perfect' });
    progress(`parent ${parent}: minibatch all perfect (${sum(before.scores)}), skipped`);
    return;
  }
  const components = selectComponents(state, parent, opts.moduleSelector);
  record.components = components;
  const texts = await proposeTexts(run, iteration, parent, before, components);
  if (texts === null) return;
  const child = withTexts(state.programs[parent], texts);
  const change = `parent ${parent} [${components.join(', ')}]`;
  if (programsEqual(child, state.programs[parent])) {
    Object.assign(record, { skipped: 'no new text' });
    progress(`${change}: reflection proposed no change, skipped`);
    return;
  }
  const after = await deps.adapter.evaluate(minibatch, child, false);
  state.totalMetricCalls += ids.length;
  const accepted = isAccepted(before.scores, after.scores, opts.acceptance);
  Object.assign(record, { subsample_after: sum(after.scores), accepted });
  const scores = `minibatch ${sum(before.scores)} → ${sum(after.scores)}`;
  if (!accepted) {
    progress(`${change}: ${scores}, rejected`);
    return;
  }
  const idx = await run.addAccepted(child, [parent]);
  Object.assign(record, { new_program: idx, val_score: aggregateScores(state)[idx] });
  if (opts.useMerge) {
    state.merge.lastIterationFoundProgram = true;
    if (state.merge.accepted < opts.maxMergeInvocations) state.merge.due++;
  }
  progress(`${change}: ${scores}, accepted as program ${idx} (val ${aggregateScores(state)[idx].toFixed(3)})`);
}

/** The reflection model's new texts, or null when the reflection failed and the iteration is skipped. */
async function proposeTexts(
  run: SearchRun,
  iteration: SearchIteration,
  parent: number,
  before: EvaluationBatch,
  components: string[],
): Promise<Record<string, string> | null> {
  const program = run.state.programs[parent];
  try {
    const texts = await run.deps.propose(
      program,
      run.deps.adapter.makeReflectiveDataset(program, before, components),
      components,
    );
    run.proposalFailuresInARow = 0;
    return texts;
  } catch (e) {
    // gepa logs a failed reflection and moves on; three in a row means the reflection model is unusable
    if (++run.proposalFailuresInARow >= 3) throw e;
    run.deps.log.warn(`iteration ${iteration.index}: reflection failed, skipped: ${(e as Error).message}`);
    Object.assign(iteration.record, { skipped: 'reflection failed' });
    iteration.progress(`parent ${parent}: reflection failed, skipped`);
    return null;
  }
}

/** The parent with the proposed texts of its own components (a text for a component it lacks is dropped). */
function withTexts(parent: Program, texts: Record<string, string>): Program {
  return { ...parent, ...Object.fromEntries(Object.entries(texts).filter(([k]) => k in parent)) };
}
