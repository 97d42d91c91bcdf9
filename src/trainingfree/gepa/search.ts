/**
 * The GEPA optimisation loop (gepa-ai/gepa: src/gepa/core/engine.py, proposer/reflective_mutation/
 * reflective_mutation.py, proposer/merge.py). Each iteration, while metric calls remain:
 *   - merge (when enabled, due, and the previous iteration found a program): combine two front programs
 *     through a common ancestor, score it on a subsample, accept if Σ ≥ the better parent's Σ; either way the
 *     iteration ends there (merge-step.ts);
 *   - otherwise reflective mutation: pick a parent from the Pareto front, run it on a training minibatch with
 *     traces, skip if every score is perfect, rewrite one component (round robin) from the feedback, run the
 *     child on the same minibatch and accept on Σ new > Σ old (or ≥ with improvement_or_equal)
 *     (reflective-mutation.ts).
 * An accepted program is scored on the whole validation set and joins the front. Budget = metric calls:
 * every (program, example) evaluation counts one; the budget is checked at the start of each iteration, so
 * the last iteration may overshoot it, as in gepa.
 */
import { GrpoError } from '../../errors.ts';
import { attemptMerge } from './merge-step.ts';
import { reflectiveMutation } from './reflective-mutation.ts';
import { type GepaSearchDeps, type GepaSearchOptions, SearchRun } from './search-run.ts';
import type { GepaState } from './state.ts';

export async function runGepaSearch(deps: GepaSearchDeps, opts: GepaSearchOptions): Promise<GepaState> {
  if (Object.keys(deps.seedProgram).length === 0)
    throw new GrpoError('config', 'the seed program has no components; give at least one named text');
  if (deps.trainset.length === 0 || deps.valset.length === 0)
    throw new GrpoError('config', 'GEPA needs a non-empty training and validation set');
  const run = await SearchRun.start(deps, opts);
  let stopReason: string | null;
  while ((stopReason = run.stopReason()) === null) {
    const iteration = run.beginIteration();
    if (await attemptMerge(run, iteration)) continue; // gepa: a merge attempt takes the whole iteration
    await reflectiveMutation(run, iteration);
  }
  run.save();
  deps.log.line(`gepa: stopped: ${stopReason}`);
  return run.state;
}
