import { GrpoError } from '../errors.ts';
import { groupAdvantages, type GroupAdvantageOptions } from './advantages.ts';
import { checkLength, groupSlices } from './ragged.ts';

/**
 * GFPO, Group Filtered Policy Optimization (arXiv 2508.09726; TRL gfpo_trainer.py at 60f8fd75a^): sample G per
 * prompt, keep the k best by a metric, and compute GRPO advantages over the kept k only; the rest leave the loss.
 */
export type GfpoMetric = 'length' | 'reward_per_token';

/** Score per completion, higher = kept: shortest first, or highest reward per token (the paper's two filters). */
export const gfpoMetrics: Record<GfpoMetric, (reward: number, length: number) => number> = {
  length: (_r, len) => -len,
  reward_per_token: (r, len) => r / Math.max(len, 1),
};

export interface GfpoSelectInput {
  rewards: number[];
  lengths: number[];
  groupSize: number | readonly number[];
  /** Completions kept per group: one k for all, or one per group (adaptive difficulty). Clamped to the group size. */
  k: number | readonly number[];
  /** Default 'length'. */
  metric?: GfpoMetric;
}

/**
 * Indices of the kept completions (batch order) and the size of each kept group. Ties keep the earlier
 * completion (TRL's torch.topk leaves tie order unspecified).
 */
export function gfpoSelect(input: GfpoSelectInput): { kept: number[]; groupSizes: number[] } {
  const { rewards, lengths } = input;
  checkLength('lengths', lengths, rewards.length, 'one length per completion');
  const name = input.metric ?? 'length';
  const metric = Object.hasOwn(gfpoMetrics, name) ? gfpoMetrics[name] : undefined;
  if (!metric)
    throw new GrpoError(
      'config',
      `unknown GFPO metric '${input.metric}'; use ${Object.keys(gfpoMetrics).join(' or ')}`,
    );
  const slices = groupSlices(rewards.length, input.groupSize);
  const ks = typeof input.k === 'number' ? slices.map(() => input.k as number) : input.k;
  checkLength('k', ks, slices.length, 'one k per group');
  const kept: number[] = [];
  const groupSizes: number[] = [];
  slices.forEach(([s, e], g) => {
    const k = ks[g];
    if (!Number.isInteger(k) || k < 1)
      throw new GrpoError('config', `GFPO k must be a positive integer, got ${k} for group ${g}`);
    const idx: number[] = [];
    for (let i = s; i < e; i++) idx.push(i);
    const score = (i: number): number => metric(rewards[i], lengths[i]);
    const top = idx
      .slice()
      .sort((a, b) => score(b) - score(a) || a - b)
      .slice(0, Math.min(k, e - s))
      .sort((a, b) => a - b);
    kept.push(...top);
    groupSizes.push(top.length);
  });
  return { kept, groupSizes };
}

export interface GfpoAdaptiveOptions {
  /** Ascending bucket edges on the group's mean reward; default [0.25, 0.5, 0.75] (rewards in [0, 1]). */
  thresholds?: readonly number[];
  /** k per bucket, hardest (lowest mean reward) first; default [8, 8, 6, 4]. */
  ks?: readonly number[];
}

/**
 * Adaptive-difficulty GFPO's k. The paper gives no exact rule (docs/methods/gfpo.md), so ours is:
 * bucket the group's mean reward by `thresholds` (a mean equal to an edge goes to the easier bucket) and give
 * harder buckets more kept samples — default mean < 0.25 → 8, < 0.5 → 8, < 0.75 → 6, else 4 — capped by groupSize.
 */
export function gfpoAdaptiveK(meanReward: number, groupSize: number, opts: GfpoAdaptiveOptions = {}): number {
  const thresholds = opts.thresholds ?? [0.25, 0.5, 0.75];
  const ks = opts.ks ?? [8, 8, 6, 4];
  if (ks.length !== thresholds.length + 1) {
    throw new GrpoError(
      'config',
      `GFPO adaptive k needs one more k than thresholds (${thresholds.length} thresholds, ${ks.length} ks)`,
    );
  }
  let bucket = 0;
  while (bucket < thresholds.length && meanReward >= thresholds[bucket]) bucket++;
  return Math.max(1, Math.min(ks[bucket], groupSize));
}

export interface GfpoAdvantageInput extends Omit<GfpoSelectInput, 'k'> {
  /** A fixed k, or 'adaptive' to use gfpoAdaptiveK on each group's mean reward over all its samples. */
  k: number | 'adaptive';
  adaptive?: GfpoAdaptiveOptions;
  advantage?: GroupAdvantageOptions;
}

/**
 * GFPO end to end: advantages over the kept completions only (0 for the filtered ones) and a 0/1 keep flag per
 * completion; turn `keep` into a loss mask so the filtered completions leave the loss and its counts.
 */
export function gfpoAdvantages(input: GfpoAdvantageInput): {
  advantages: number[];
  keep: number[];
  groupSizes: number[];
} {
  const slices = groupSlices(input.rewards.length, input.groupSize);
  const k =
    input.k === 'adaptive'
      ? slices.map(([s, e]) => {
          const g = input.rewards.slice(s, e);
          return gfpoAdaptiveK(g.reduce((a, b) => a + b, 0) / g.length, e - s, input.adaptive);
        })
      : input.k;
  const { kept, groupSizes } = gfpoSelect({ ...input, k });
  const keptAdv = groupAdvantages(
    kept.map((i) => input.rewards[i]),
    groupSizes,
    input.advantage,
  );
  const advantages = new Array<number>(input.rewards.length).fill(0);
  const keep = new Array<number>(input.rewards.length).fill(0);
  kept.forEach((i, j) => {
    advantages[i] = keptAdv[j];
    keep[i] = 1;
  });
  return { advantages, keep, groupSizes };
}
