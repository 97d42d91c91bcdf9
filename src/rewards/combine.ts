/**
 * Runs a run's weighted rewards over a batch of completions. Every reward is computed for every
 * completion — async ones concurrently — and kept separately (GDPO normalises each reward on its own,
 * docs/methods/gdpo.md) next to the weighted total Σ_k w_k·r_k (TRL `reward_weights`). A reward that throws
 * or returns a non-finite number scores that completion 0 and is counted; it never fails the batch.
 * To overlap scoring with generation, call it per group as soon as that group's completions are done.
 */
import type { RewardSpec, Sample } from './types.ts';
import { GrpoError } from '../errors.ts';
import { mean, std } from '../algorithms/stats.ts';

export interface RewardFailure {
  reward: string;
  index: number;
  message: string;
}

export interface CombinedRewards {
  /** Reward names in the order given. */
  names: string[];
  /** Unweighted score of each reward for each completion (0 where it failed). */
  perReward: Record<string, number[]>;
  /** Weighted sum per completion. */
  total: number[];
  /** Number of failed evaluations per reward. */
  failures: Record<string, number>;
  /** Details of the first failures (at most `maxRecordedFailures`). */
  failureDetails: RewardFailure[];
}

export interface CombineOptions {
  /** Group id (prompt) of each completion; required by group rewards (Kimi length penalty). */
  groupIds?: readonly (number | string)[];
  /** Failure details kept. Default 20. */
  maxRecordedFailures?: number;
}

export function validateRewardSpecs(specs: readonly RewardSpec[]): void {
  const seen = new Set<string>();
  for (const s of specs) {
    if (!s.name) throw new GrpoError('reward', 'reward spec without a name; give each reward a unique name');
    if (seen.has(s.name))
      throw new GrpoError(
        'reward',
        `reward name '${s.name}' is used twice; names must be unique (they key the logs and GDPO)`,
      );
    seen.add(s.name);
    if (!Number.isFinite(s.weight))
      throw new GrpoError('reward', `reward '${s.name}': weight must be a finite number (got ${s.weight})`);
    const hasFn = typeof s.fn === 'function';
    const hasGroupFn = typeof s.groupFn === 'function';
    if (hasFn === hasGroupFn)
      throw new GrpoError(
        'reward',
        `reward '${(s as { name: string }).name}': give exactly one of fn (per completion) or groupFn (per group)`,
      );
  }
}

/** Each completion's score per reward as it arrives; a throw or a non-finite score counts as a failure and scores 0. */
class RewardScores {
  readonly perReward: Record<string, number[]> = {};
  readonly failures: Record<string, number> = {};
  readonly failureDetails: RewardFailure[] = [];
  /** Scoring that has yet to finish (async rewards). */
  readonly pending: Promise<void>[] = [];

  constructor(
    private readonly completions: number,
    private readonly maxRecordedFailures: number,
  ) {}

  start(reward: string): void {
    this.perReward[reward] = new Array<number>(this.completions).fill(0);
    this.failures[reward] = 0;
  }

  fail(reward: string, index: number, e: unknown): void {
    this.failures[reward]++;
    this.perReward[reward][index] = 0;
    if (this.failureDetails.length < this.maxRecordedFailures)
      this.failureDetails.push({ reward, index, message: e instanceof Error ? e.message : String(e) });
  }

  accept(reward: string, index: number, value: unknown): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.perReward[reward][index] = value;
    else this.fail(reward, index, new Error(`returned ${String(value)}, not a finite number`));
  }
}

function checkBatch(completions: readonly string[], samples: readonly Sample[], opts: CombineOptions): void {
  if (completions.length !== samples.length) {
    throw new GrpoError(
      'reward',
      `combineRewards: ${completions.length} completions but ${samples.length} samples; pass one sample per completion`,
    );
  }
  if (opts.groupIds && opts.groupIds.length !== completions.length) {
    throw new GrpoError(
      'reward',
      `combineRewards: ${opts.groupIds.length} group ids for ${completions.length} completions`,
    );
  }
}

/** A per-completion reward over every completion; sync scores land at once, async ones in `scores.pending`. */
function scoreEachCompletion(
  spec: RewardSpec,
  completions: readonly string[],
  samples: readonly Sample[],
  scores: RewardScores,
): void {
  const { name } = spec;
  const fn = spec.fn!;
  completions.forEach((completion, i) => {
    try {
      const r = fn(completion, samples[i]);
      if (r instanceof Promise)
        scores.pending.push(
          r.then(
            (v) => scores.accept(name, i, v),
            (e) => scores.fail(name, i, e),
          ),
        );
      else scores.accept(name, i, r);
    } catch (e) {
      scores.fail(name, i, e);
    }
  });
}

/** A per-group reward over each group of `groupIds`; one failure or a wrong count of scores fails the whole group. */
function scoreEachGroup(
  spec: RewardSpec,
  completions: readonly string[],
  samples: readonly Sample[],
  groupIds: readonly (number | string)[],
  scores: RewardScores,
): void {
  const { name } = spec;
  const groups = new Map<number | string, number[]>();
  groupIds.forEach((g, i) => groups.set(g, [...(groups.get(g) ?? []), i]));
  for (const indices of groups.values()) {
    const failGroup = (e: unknown) => indices.forEach((i) => scores.fail(name, i, e));
    const acceptGroup = (values: readonly number[]) => {
      if (values.length !== indices.length)
        return failGroup(new Error(`returned ${values.length} scores for a group of ${indices.length}`));
      indices.forEach((i, k) => scores.accept(name, i, values[k]));
    };
    try {
      const r = spec.groupFn!(
        indices.map((i) => completions[i]),
        indices.map((i) => samples[i]),
      );
      if (r instanceof Promise) scores.pending.push(r.then(acceptGroup, failGroup));
      else acceptGroup(r);
    } catch (e) {
      failGroup(e);
    }
  }
}

export async function combineRewards(
  specs: readonly RewardSpec[],
  completions: readonly string[],
  samples: readonly Sample[],
  opts: CombineOptions = {},
): Promise<CombinedRewards> {
  validateRewardSpecs(specs);
  checkBatch(completions, samples, opts);
  const scores = new RewardScores(completions.length, opts.maxRecordedFailures ?? 20);
  for (const spec of specs) {
    scores.start(spec.name);
    if (spec.fn) scoreEachCompletion(spec, completions, samples, scores);
    else {
      if (!opts.groupIds)
        throw new GrpoError('reward', `reward '${spec.name}' is computed per group; pass groupIds to combineRewards`);
      scoreEachGroup(spec, completions, samples, opts.groupIds, scores);
    }
  }
  await Promise.all(scores.pending);

  const { perReward, failures, failureDetails } = scores;
  const total = completions.map((_, i) => specs.reduce((sum, s) => sum + s.weight * perReward[s.name][i], 0));
  return { names: specs.map((s) => s.name), perReward, total, failures, failureDetails };
}

/** Per-reward log fields with TRL's names: rewards/<name>/mean, rewards/<name>/std, plus failures. */
export function rewardMetrics(r: CombinedRewards): Record<string, number> {
  const out: Record<string, number> = { reward: mean(r.total, 0) };
  for (const name of r.names) {
    out[`rewards/${name}/mean`] = mean(r.perReward[name], 0);
    out[`rewards/${name}/std`] = std(r.perReward[name], 'sample', 0);
    out[`rewards/${name}/failures`] = r.failures[name];
  }
  return out;
}
