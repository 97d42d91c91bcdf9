/**
 * One step's rollouts: sample prompts, generate G completions each, reward them with the run's rewards, and apply
 * the run's batch transforms (transforms/): reward shaping, group filters with refill (DAPO dynamic sampling),
 * selection within groups (GFPO). Returns whole groups.
 */
import type { Completion } from '../rollout/completion.ts';
import type { RolloutGenerator } from './rollout-generator.ts';
import { combineRewards } from '../rewards/index.ts';
import { dynamicSamplingKeep } from '../algorithms/index.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { PromptSampler, Example } from '../data/index.ts';
import type { Rng } from '../util/rng.ts';
import type { RunPlan } from './run-plan.ts';
import { isCorrect, type Rollout, type RolloutBatch } from './rollouts.ts';
import type { AgentLoopFor } from './agent-setup.ts';
import type { ActiveTransform, TransformRun } from './transforms/index.ts';

export interface RolloutContext {
  plan: RunPlan;
  generator: RolloutGenerator;
  tokenizer: Tokenizer;
  examples: Example[];
  promptIds: number[][];
  sampler: PromptSampler;
  rng: Rng;
  /** multi-turn runs: the agent loop of a batch's prompts */
  agent?: AgentLoopFor;
}

/** A generation batch's groups with their rewards, and how many reward calls failed. */
interface RewardedGroups {
  groups: Rollout[][];
  generated: number;
  failures: number;
}

type GenerationCounts = Pick<RolloutBatch, 'genBatches' | 'droppedGroups' | 'generated' | 'rewardFailures'>;

export async function collectRollouts(ctx: RolloutContext): Promise<RolloutBatch> {
  const { algorithm, sampling, transformRun } = ctx.plan;
  const P = sampling.promptsPerStep;
  const filters = algorithm.batch_transforms.filter(({ transform: t }) => t.keepGroups);
  const selects = algorithm.batch_transforms.filter(({ transform: t }) => t.select);
  const kept: Rollout[][] = [];
  const counts: GenerationCounts = { genBatches: 0, droppedGroups: 0, generated: 0, rewardFailures: 0 };
  let zeroStd = 0,
    groupsSeen = 0;
  const maxBatches = Math.max(1, ...filters.map(({ transform: t, options }) => t.generationBatches?.(options) ?? 1));
  while (kept.length < P && counts.genBatches < maxBatches) {
    const { groups, generated, failures } = await generateRewardedGroups(ctx);
    counts.genBatches++;
    counts.generated += generated;
    counts.rewardFailures += failures;
    // TRL's frac_reward_zero_std counts groups whose summed rewards are all equal (a group of one has no std)
    zeroStd += dynamicSamplingKeep(
      groups.flat().map((r) => r.reward),
      groups.map((g) => g.length),
    ).filter((k) => !k).length;
    groupsSeen += groups.length;
    const keep = keptByFilters(groups, filters, transformRun);
    groups.forEach((g, i) => {
      if (!keep[i]) {
        counts.droppedGroups++;
        return;
      }
      if (kept.length < P) kept.push(g);
    });
  }
  const fracZeroStd = groupsSeen ? zeroStd / groupsSeen : 0;
  if (selects.length === 0) return { groups: kept, ...counts, fracZeroStd };
  return selectWithinGroups(kept, selects, transformRun, counts, fracZeroStd);
}

/**
 * One generation batch: prompts sampled, G completions each, each prompt's group rewarded as soon as the
 * generator hands it over (async rewards overlap generation); the sampler then learns each prompt's pass rate.
 */
async function generateRewardedGroups(ctx: RolloutContext): Promise<RewardedGroups> {
  const { sampling, correctness } = ctx.plan;
  const indices = ctx.sampler.next(sampling.promptsPerStep);
  const rewarding: Promise<{ items: Rollout[]; failures: number }>[] = [];
  const completions = await ctx.generator.generate(
    indices.map((i) => ctx.promptIds[i]),
    {
      n: sampling.groupSize,
      maxTokens: sampling.maxTokens,
      temperature: sampling.temperature,
      topP: sampling.topP,
      topK: sampling.topK,
      minP: sampling.minP,
      stop: sampling.stop,
      seed: ctx.rng.int(2 ** 31),
      decode: (ids) => ctx.tokenizer.decode(ids),
    },
    (p, group) => {
      rewarding[p] = rewardGroup(ctx, indices, group);
    },
    ctx.agent?.(indices.map((i) => ctx.examples[i])),
  );
  const rewarded = await Promise.all(rewarding);
  const groups = rewarded.map((x) => x.items);
  ctx.sampler.update(
    indices,
    groups.map((g) => passRate(g, correctness)),
  );
  return { groups, generated: completions.length, failures: rewarded.reduce((s, x) => s + x.failures, 0) };
}

/** Whether every group filter (DAPO dynamic sampling) keeps each group. */
function keptByFilters(groups: Rollout[][], filters: ActiveTransform[], run: TransformRun): boolean[] {
  const keep = groups.map(() => true);
  for (const { transform: t, options } of filters)
    t.keepGroups!(groups, options, run).forEach((k, i) => {
      keep[i] &&= k;
    });
  return keep;
}

/** A filter within groups (GFPO): the metrics describe what trains; what was sampled is logged beside them. */
function selectWithinGroups(
  kept: Rollout[][],
  selects: ActiveTransform[],
  run: TransformRun,
  counts: GenerationCounts,
  fracZeroStd: number,
): RolloutBatch {
  const groups = kept.map((g) =>
    selects.reduce((group, { transform: t, options }) => t.select!(group, options, run), g),
  );
  const sampled = kept.flat();
  return {
    groups,
    ...counts,
    fracZeroStd: groups.length ? groups.filter(allEqual).length / groups.length : 0,
    beforeFilter: {
      reward: sampled.reduce((s, r) => s + r.reward, 0) / Math.max(1, sampled.length),
      completionLength: sampled.reduce((s, r) => s + r.completionIds.length, 0) / Math.max(1, sampled.length),
      fracZeroStd,
    },
  };
}

const allEqual = (g: Rollout[]) => g.every((r) => r.reward === g[0].reward);

/** A group's rewards, with the shaping transforms (soft overlong punishment) applied to each completion. */
async function rewardGroup(
  ctx: RolloutContext,
  indices: number[],
  completions: Completion[],
): Promise<{ items: Rollout[]; failures: number }> {
  const { algorithm, transformRun } = ctx.plan;
  const samples = completions.map((c) => ({
    ...ctx.examples[indices[c.promptIndex]],
    completion_ids: c.tokens,
    finish_reason: c.finishReason,
  }));
  const texts = completions.map((c) => c.text ?? '');
  const combined = await combineRewards(ctx.plan.rewards, texts, samples, {
    groupIds: completions.map((c) => c.promptIndex),
  });
  const shapers = algorithm.batch_transforms.filter(({ transform: t }) => t.shape);
  const items = completions.map((c, k): Rollout => {
    const rollout: Rollout = {
      example: ctx.examples[indices[c.promptIndex]],
      exampleIndex: indices[c.promptIndex],
      promptIds: ctx.promptIds[indices[c.promptIndex]],
      completionIds: c.tokens,
      logprobs: c.logprobs,
      sampledMask: c.sampledMask,
      episode: c.episode,
      policyVersion: c.policyVersion,
      finishReason: c.finishReason,
      text: texts[k],
      rewards: Object.fromEntries(combined.names.map((n) => [n, combined.perReward[n][k]])),
      reward: combined.total[k] + (c.episode?.turnRewards.reduce((s, t) => s + t.reward, 0) ?? 0),
    };
    return shapers.reduce((r, { transform: t, options }) => t.shape!(r, options, transformRun), rollout);
  });
  return { items, failures: Object.values(combined.failures).reduce((s, n) => s + n, 0) };
}

function passRate(group: Rollout[], correctness?: string): number {
  return group.filter((r) => isCorrect(r, correctness)).length / group.length;
}
