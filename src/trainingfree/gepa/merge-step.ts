/**
 * GEPA's merge step (gepa-ai/gepa: src/gepa/proposer/merge.py, MergeProposer): when a merge is due right after an
 * iteration that found a new program, combine two front programs through a common ancestor (merge.ts), score the
 * merged program on a subsample of the validation set and accept it if its Σ ≥ the better parent's Σ on the
 * same subsample. A merge attempt, accepted or not, takes the whole iteration.
 */
import { mergeSubsample, proposeMerge, tripletKey, type MergeProposal } from './merge.ts';
import { dominatorPrograms } from './pareto.ts';
import { type SearchIteration, type SearchRun, sum } from './search-run.ts';
import { aggregateScores } from './state.ts';

/** Attempts the merge that is due, if one is; true when an attempt took the iteration. */
export async function attemptMerge(run: SearchRun, iteration: SearchIteration): Promise<boolean> {
  const { state, opts } = run;
  const due = opts.useMerge && state.merge.due > 0 && state.merge.lastIterationFoundProgram;
  if (opts.useMerge) state.merge.lastIterationFoundProgram = false;
  if (!due) return false;
  const agg = aggregateScores(state);
  const proposal = proposeMerge(
    dominatorPrograms(state.front.programs, agg),
    { programs: state.programs, parents: state.parents, scores: agg },
    run.mergeMemory,
    run.rng,
  );
  if (!proposal) return false;
  run.mergeMemory.triedTriplets.add(tripletKey(proposal.i, proposal.j, proposal.ancestor));
  await scoreMerge(run, iteration, proposal);
  return true;
}

/** Scores the merged program on a subsample beside its parents, and accepts it or not. */
async function scoreMerge(run: SearchRun, iteration: SearchIteration, proposal: MergeProposal): Promise<void> {
  const { state, opts, deps } = run;
  const { i, j, ancestor } = proposal;
  const ids = mergeSubsample(state.valScores[i], state.valScores[j], opts.mergeSubsampleSize, run.rng);
  const ev = await deps.adapter.evaluate(
    ids.map((k) => deps.valset[k]),
    proposal.program,
    false,
  );
  state.totalMetricCalls += ids.length;
  const parentSums = [sum(ids.map((k) => state.valScores[i][k])), sum(ids.map((k) => state.valScores[j][k]))];
  const merged = sum(ev.scores);
  const bestParent = Math.max(...parentSums);
  const accepted = merged >= bestParent;
  Object.assign(iteration.record, {
    kind: 'merge',
    parents: [i, j],
    ancestor,
    subsample_before: parentSums,
    subsample_after: merged,
    accepted,
  });
  if (!accepted) {
    iteration.progress(`merge ${i}+${j} via ${ancestor}: subsample ${merged} < ${bestParent}, rejected`);
    return;
  }
  const idx = await run.addAccepted(proposal.program, [i, j]);
  state.merge.due--;
  state.merge.accepted++;
  Object.assign(iteration.record, { new_program: idx, val_score: aggregateScores(state)[idx] });
  iteration.progress(
    `merge ${i}+${j} via ${ancestor}: subsample ${merged} ≥ ${bestParent}, accepted as program ${idx}`,
  );
}
