/**
 * The trainer's record of a step's completions: each one with its prompt, tokens, rewards and episode, in whole
 * groups. Its own file, so that the rollout stage, the batch transforms and the later stages share it without
 * depending on one another.
 */
import type { EpisodeStats } from '../rollout/completion.ts';
import type { Example } from '../data/index.ts';

export interface Rollout {
  example: Example;
  exampleIndex: number;
  promptIds: number[];
  completionIds: number[];
  /** log-probs the sampler reports (temperature-scaled policy); 0 on inserted tokens */
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
  /** rollout servers: the policy version that sampled it (the step after which that policy was published) */
  policyVersion?: number;
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

/** The run's correctness reward says the completion is right (≥ 1). */
export function isCorrect(r: Rollout, correctness?: string): boolean {
  return correctness !== undefined && (r.rewards[correctness] ?? 0) >= 1 - 1e-9;
}
