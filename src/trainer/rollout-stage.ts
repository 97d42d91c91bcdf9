/**
 * One step's rollouts: sample prompts, generate G completions each, score them with the run's rewards, and apply
 * the run's batch transforms (transforms/): reward shaping, group filters with refill (DAPO dynamic sampling),
 * selection within groups (GFPO). Returns whole groups.
 */
import type { Completion } from '../rollout/completion.ts';
import type { RolloutEngine } from './rollout-engine.ts';
import { combineRewards } from '../rewards/index.ts';
import { dynamicSamplingKeep } from '../algorithms/index.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { PromptSampler, Example } from '../data/index.ts';
import type { Rng } from '../util/rng.ts';
import type { RunPlan } from './run-plan.ts';
import { isCorrect, type Rollout, type RolloutBatch } from './rollouts.ts';
import type { AgentLoopFor } from './agent-setup.ts';

export interface RolloutContext {
  plan: RunPlan;
  engine: RolloutEngine;
  tokenizer: Tokenizer;
  examples: Example[];
  promptIds: number[][];
  sampler: PromptSampler;
  rng: Rng;
  /** multi-turn runs: the agent loop of a batch's prompts */
  agent?: AgentLoopFor;
}

export async function collectRollouts(ctx: RolloutContext): Promise<RolloutBatch> {
  const { algorithm, sampling, correctness, transformRun } = ctx.plan;
  const { promptsPerStep: P, groupSize: G, maxTokens } = sampling;
  const filters = algorithm.batch_transforms.filter(({ transform: t }) => t.keepGroups);
  const selects = algorithm.batch_transforms.filter(({ transform: t }) => t.select);
  const kept: Rollout[][] = [];
  let genBatches = 0,
    dropped = 0,
    generated = 0,
    failures = 0,
    zeroStd = 0,
    groupsSeen = 0;
  const maxBatches = Math.max(1, ...filters.map(({ transform: t, options }) => t.generationBatches?.(options) ?? 1));
  while (kept.length < P && genBatches < maxBatches) {
    const indices = ctx.sampler.next(P);
    // each prompt's group is scored as soon as the engine hands it over (async rewards overlap generation)
    const scoring: Promise<{ items: Rollout[]; failures: number }>[] = [];
    const completions = await ctx.engine.generate(
      indices.map((i) => ctx.promptIds[i]),
      {
        n: G,
        maxTokens,
        temperature: sampling.temperature,
        topP: sampling.topP,
        topK: sampling.topK,
        minP: sampling.minP,
        stop: sampling.stop,
        seed: ctx.rng.int(2 ** 31),
        decode: (ids) => ctx.tokenizer.decode(ids),
      },
      (p, group) => {
        scoring[p] = score(ctx, indices, group);
      },
      ctx.agent?.(indices.map((i) => ctx.examples[i])),
    );
    genBatches++;
    generated += completions.length;
    const scored = await Promise.all(scoring);
    failures += scored.reduce((s, x) => s + x.failures, 0);
    const groups = scored.map((x) => x.items);
    ctx.sampler.update(
      indices,
      groups.map((g) => passRate(g, correctness)),
    );
    // TRL's frac_reward_zero_std counts groups whose summed rewards are all equal (a group of one has no std)
    zeroStd += dynamicSamplingKeep(
      groups.flat().map((r) => r.reward),
      groups.map((g) => g.length),
    ).filter((k) => !k).length;
    groupsSeen += groups.length;
    const keep = groups.map(() => true);
    for (const { transform: t, options } of filters)
      t.keepGroups!(groups, options, transformRun).forEach((k, i) => {
        keep[i] &&= k;
      });
    groups.forEach((g, i) => {
      if (!keep[i]) {
        dropped++;
        return;
      }
      if (kept.length < P) kept.push(g);
    });
  }
  const counts = { genBatches, droppedGroups: dropped, generated, rewardFailures: failures };
  const fracZeroStd = groupsSeen ? zeroStd / groupsSeen : 0;
  if (selects.length === 0) return { groups: kept, ...counts, fracZeroStd };
  // a filter within groups (GFPO): the metrics describe what trains; what was sampled is logged beside them
  const groups = kept.map((g) =>
    selects.reduce((group, { transform: t, options }) => t.select!(group, options, transformRun), g),
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

async function score(
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
