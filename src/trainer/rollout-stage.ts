/**
 * One step's rollouts: sample prompts, generate G completions each, score them with the run's rewards, apply
 * reward shaping and group filters (DAPO dynamic sampling with refill, GFPO selection), and return whole groups.
 */
import type { Completion } from '../rollout/generate.ts';
import type { RolloutEngine } from './rollout-engine.ts';
import { combineRewards, type RewardSpec } from '../rewards/index.ts';
import { dynamicSamplingKeep, gfpoAdaptiveK, gfpoSelect, policyLosses, softOverlongPunishment } from '../algorithms/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { PromptSampler, Example } from '../data/index.ts';
import type { Rng } from '../util/rng.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import type { TrainConfig } from './config/schema.ts';
import { GrpoError } from '../errors.ts';
import type { AgentLoopFor } from './agent-setup.ts';
import type { EpisodeStats } from '../rollout/agent-loop.ts';

export interface Rollout {
  example: Example;
  exampleIndex: number;
  promptIds: number[];
  completionIds: number[];
  /** log-probs the sampling engine reports (temperature-scaled policy); 0 on inserted tokens */
  logprobs: number[];
  /** multi-turn episodes: 1 on tokens the model sampled, 0 on tokens the environment inserted (never trained on) */
  sampledMask?: number[];
  /** multi-turn episodes: turns, tool calls and per-turn rewards */
  episode?: EpisodeStats;
  finishReason: 'stop' | 'length';
  text: string;
  /** each reward, unweighted */
  rewards: Record<string, number>;
  /** weighted total plus shaping (soft overlong punishment) and the episode's per-turn rewards */
  reward: number;
}

export interface RolloutBatch {
  groups: Rollout[][];
  genBatches: number;
  /** groups dropped by dynamic sampling */
  droppedGroups: number;
  /** completions generated, including dropped ones */
  generated: number;
  rewardFailures: number;
  /** fraction of the groups trained on (with dynamic sampling: of every generated group) whose rewards were all equal */
  fracZeroStd: number;
  /** with GFPO: the sampled groups before its filter kept the shortest / most token-efficient completions */
  beforeFilter?: { reward: number; completionLength: number; fracZeroStd: number };
}

export interface RolloutContext {
  engine: RolloutEngine;
  model: LlamaModel;
  tokenizer: Tokenizer;
  examples: Example[];
  promptIds: number[][];
  sampler: PromptSampler;
  rng: Rng;
  rewards: RewardSpec[];
  /** the reward whose value ≥ 1 means "correct" (accuracy, sampler pass rates) */
  correctness?: string;
  config: TrainConfig;
  algorithm: ResolvedAlgorithm;
  /** multi-turn runs: the agent loop of a batch's prompts */
  agent?: AgentLoopFor;
}

export async function collectRollouts(ctx: RolloutContext): Promise<RolloutBatch> {
  const { config, algorithm: a } = ctx;
  const { prompts_per_step: P, group_size: G, max_tokens: maxTokens } = config.rollout;
  const kept: Rollout[][] = [];
  let genBatches = 0, dropped = 0, generated = 0, failures = 0, zeroStd = 0, groupsSeen = 0;
  const maxBatches = a.dynamic_sampling ? a.max_gen_batches : 1;
  while (kept.length < P && genBatches < maxBatches) {
    const indices = ctx.sampler.next(P);
    // each prompt's group is scored as soon as the engine hands it over (async rewards overlap generation)
    const scoring: Promise<{ items: Rollout[]; failures: number }>[] = [];
    const completions = await ctx.engine.generate(indices.map((i) => ctx.promptIds[i]), {
      n: G, maxTokens, temperature: config.rollout.temperature, topP: config.rollout.top_p, topK: config.rollout.top_k,
      minP: config.rollout.min_p, stop: config.rollout.stop, seed: ctx.rng.int(2 ** 31), decode: (ids) => ctx.tokenizer.decode(ids),
    }, (p, group) => { scoring[p] = score(ctx, indices, group); }, ctx.agent?.(indices.map((i) => ctx.examples[i])));
    genBatches++;
    generated += completions.length;
    const scored = await Promise.all(scoring);
    failures += scored.reduce((s, x) => s + x.failures, 0);
    const groups = scored.map((x) => x.items);
    ctx.sampler.update(indices, groups.map((g) => passRate(g, ctx.correctness)));
    const sizes = groups.map((g) => g.length);
    // TRL's frac_reward_zero_std counts groups whose summed rewards are all equal
    zeroStd += dynamicSamplingKeep(groups.flat().map((r) => r.reward), sizes).filter((k) => !k).length;
    groupsSeen += groups.length;
    // DAPO Eq. 11 keeps a group unless its completions are all right or all wrong (verl filter_groups.metric: acc)
    const keep = a.dynamic_sampling ? dynamicSamplingKeep(groups.flat().map(dynamicSamplingValue(a, ctx.correctness)), sizes) : null;
    groups.forEach((g, i) => {
      if (keep && !keep[i]) { dropped++; return; }
      if (kept.length < P) kept.push(g);
    });
  }
  const counts = { genBatches, droppedGroups: dropped, generated, rewardFailures: failures };
  const fracZeroStd = groupsSeen ? zeroStd / groupsSeen : 0;
  if (a.gfpo_keep <= 0) return { groups: kept, ...counts, fracZeroStd };
  // GFPO: the metrics describe what trains (the kept completions); what was sampled is logged beside them
  const groups = kept.map((g) => gfpoFilter(g, a));
  const sampled = kept.flat();
  const allEqual = (g: Rollout[]) => g.every((r) => r.reward === g[0].reward);
  return {
    groups, ...counts,
    fracZeroStd: groups.length ? groups.filter(allEqual).length / groups.length : 0,
    beforeFilter: {
      reward: sampled.reduce((s, r) => s + r.reward, 0) / Math.max(1, sampled.length),
      completionLength: sampled.reduce((s, r) => s + r.completionIds.length, 0) / Math.max(1, sampled.length),
      fracZeroStd,
    },
  };
}

async function score(ctx: RolloutContext, indices: number[], completions: Completion[]): Promise<{ items: Rollout[]; failures: number }> {
  const { config, algorithm: a } = ctx;
  const samples = completions.map((c) => ({
    ...ctx.examples[indices[c.promptIndex]],
    completion_ids: c.tokens,
    finish_reason: c.finishReason,
  }));
  const texts = completions.map((c) => c.text ?? '');
  const combined = await combineRewards(ctx.rewards, texts, samples, { groupIds: completions.map((c) => c.promptIndex) });
  const items = completions.map((c, k): Rollout => {
    let reward = combined.total[k] + (c.episode?.turnRewards.reduce((s, t) => s + t.reward, 0) ?? 0);
    // DAPO soft overlong punishment (Eq. 13), added to the reward
    if (a.soft_overlong_cache > 0) reward += softOverlongPunishment(c.tokens.length, config.rollout.max_tokens, a.soft_overlong_cache);
    // ORZ custom_reward_fn: "only correct and stopped response can acquire reward"; every reward (correctness, turns too) is 0
    const unstopped = a.require_stop && c.finishReason === 'length';
    if (unstopped) reward = 0;
    return {
      example: ctx.examples[indices[c.promptIndex]],
      exampleIndex: indices[c.promptIndex],
      promptIds: ctx.promptIds[indices[c.promptIndex]],
      completionIds: c.tokens,
      logprobs: c.logprobs,
      sampledMask: c.sampledMask,
      // an unstopped episode's per-turn rewards go too, so no token of it is rewarded
      episode: unstopped && c.episode ? { ...c.episode, turnRewards: [] } : c.episode,
      finishReason: c.finishReason,
      text: texts[k],
      rewards: Object.fromEntries(combined.names.map((n) => [n, unstopped ? 0 : combined.perReward[n][k]])),
      reward,
    };
  });
  return { items, failures: Object.values(combined.failures).reduce((s, n) => s + n, 0) };
}

/** GFPO: keep the k best of a group by length or reward per token (k adaptive to difficulty if asked). */
function gfpoFilter(group: Rollout[], a: ResolvedAlgorithm): Rollout[] {
  const rewards = group.map((r) => r.reward);
  const k = a.gfpo_adaptive ? gfpoAdaptiveK(rewards.reduce((s, x) => s + x, 0) / rewards.length, group.length) : a.gfpo_keep;
  const { kept } = gfpoSelect({ rewards, lengths: group.map((r) => r.completionIds.length), groupSize: group.length, k, metric: a.gfpo_metric });
  return kept.map((i) => group[i]);
}

/** What dynamic sampling compares within a group: correctness (1/0) or the summed reward. Checked before a run starts. */
export function dynamicSamplingValue(a: ResolvedAlgorithm, correctness: string | undefined): (r: Rollout) => number {
  if (a.dynamic_sampling_metric === 'reward') return (r) => r.reward;
  if (!correctness) throw noCorrectness('algorithm.dynamic_sampling filters groups on correctness (DAPO)', 'set algorithm.dynamic_sampling_metric: reward to filter on the summed reward');
  return (r) => (isCorrect(r, correctness) ? 1 : 0);
}

/** A policy loss that splits answers by correctness (DisCO) needs a reward that decides it; checked before a run starts. */
export function checkLossCorrectness(a: ResolvedAlgorithm, correctness: string | undefined): void {
  const wayOut = policyLosses.get(a.loss).needsCorrectness?.(a.loss_options);
  if (wayOut !== undefined && !correctness) throw noCorrectness(`policy loss '${a.loss}' splits answers by correctness`, wayOut);
}

function noCorrectness(what: string, wayOut: string): GrpoError {
  return new GrpoError('config', `${what}, but no reward of this run decides it (math, countdown, code, or train({ correctness })); ${wayOut}`);
}

export function isCorrect(r: Rollout, correctness?: string): boolean {
  return correctness !== undefined && (r.rewards[correctness] ?? 0) >= 1 - 1e-9;
}

function passRate(group: Rollout[], correctness?: string): number {
  return group.filter((r) => isCorrect(r, correctness)).length / group.length;
}

