/**
 * The currency of rollouts: what a decoder, an agent loop and a rollout server hand the trainer for each
 * sampled sequence. Its own file, so that the decoders and the agent loop both depend on it and not on each other.
 */

export interface Completion {
  promptIndex: number;
  sampleIndex: number;
  tokens: number[];
  /** per token: log softmax(logits / T) (T = 1 when greedy) — the policy the trainer recomputes */
  logprobs: number[];
  /** per token: log-probability under the truncated (top-k / top-p / min-p) distribution actually sampled */
  samplingLogprobs: number[];
  finishReason: 'stop' | 'length';
  /** decoded completion (cut before the stop string) when `decode` is given */
  text?: string;
  /**
   * multi-turn requests: 1 where the model sampled the token, 0 where it was appended by `resume()` (tool
   * responses: their logprobs are 0 placeholders, and they are context, never trained on)
   */
  sampledMask?: number[];
  /** multi-turn episodes (agent-loop.ts): turns, tool calls and per-turn rewards */
  episode?: EpisodeStats;
  /** rollout servers: the policy version that sampled it (an episode: its oldest turn's) */
  policyVersion?: number;
}

export interface EpisodeStats {
  turns: number;
  toolCalls: number;
  toolErrors: number;
  /** per-turn rewards the environment gave, and the completion index of the last token of each one's turn */
  turnRewards: { reward: number; at: number }[];
}
