/**
 * The reward contract between the trainer and reward functions.
 *
 * A sample is the dataset row the prompt came from (data/ maps every dataset to `prompt`, `answer`, …),
 * plus what the rollout knows about the completion. The trainer should add, where it has them:
 * - `completion_ids`: the completion's token ids (length rewards count tokens from it; TRL passes the same)
 * - `finish_reason`: 'stop' | 'length' (OpenAI naming; 'length' = truncated at the token limit)
 */
export type Sample = Record<string, unknown>;

/** Scores one completion. May be async (code execution, judges); may throw (counted, scored 0 by combine). */
export type RewardFn = (completion: string, sample: Sample) => number | Promise<number>;

/**
 * Scores all completions of one prompt's group at once, for rewards defined relative to the group
 * (Kimi k1.5 length penalty). Returns one number per completion, in order.
 */
export type GroupRewardFn = (
  completions: readonly string[],
  samples: readonly Sample[],
) => readonly number[] | Promise<readonly number[]>;

/** One weighted reward in a run's reward list. Exactly one of `fn` / `groupFn`. */
export type RewardSpec =
  | { name: string; weight: number; fn: RewardFn; groupFn?: never }
  | { name: string; weight: number; groupFn: GroupRewardFn; fn?: never };

/** Number of completion tokens: `completion_ids.length`, else `completion_tokens`, else null. */
export function completionTokenCount(sample: Sample): number | null {
  const ids = sample.completion_ids;
  if (Array.isArray(ids) || ArrayBuffer.isView(ids)) return (ids as ArrayLike<unknown>).length;
  const n = sample.completion_tokens;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}
