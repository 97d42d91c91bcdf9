/**
 * What the update trains on: each completion with its tokens, advantages and the numbers its passes computed
 * (pass-stage.ts) — the advantage stage's output and the update stage's and loss terms' input.
 */

/** One completion prepared for the update. */
export interface UpdateSequence {
  tokens: number[];
  promptLength: number;
  group: number;
  oldLogp: number[];
  advantages: number[];
  reward: number;
  /** the run's correctness reward says it is right; absent when no reward decides it */
  correct?: boolean;
  truncated: boolean;
  refLogp?: number[];
  oldValues?: number[];
  returns?: number[];
  /** per-token importance weight correcting the rollout generator / trainer mismatch (TIS / MIS) */
  weights?: number[];
  /** multi-turn episodes: 0 on tokens the environment inserted, which leave every loss term and its counts */
  sampledMask?: number[];
}
