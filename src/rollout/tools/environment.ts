/**
 * The environment of a multi-turn episode (TRL `environment_factory`, verl's agent loop): an episode starts from a
 * dataset example; each time the model ends a turn, the environment reads the turn's text and answers with
 * responses to insert (tool outputs, observations), an optional per-turn reward, or the end of the episode.
 * `toolEnvironment` is the usual one: it runs the tool calls the turn made and ends the episode when it made none.
 */
import type { Example } from '../../data/presets.ts';
import { callTool, toolbox, type Tool } from './tool.ts';
import type { ToolFormat } from './tool-format.ts';

export interface EnvironmentReply {
  /** texts to insert before the model's next turn, each rendered by the tool format as one response */
  responses?: string[];
  /** a reward for this turn, added to the episode's (per-turn credit for token-level methods: see README) */
  reward?: number;
  /** end the episode (also when there is no response) */
  done?: boolean;
  /** tool calls this turn made, and how many failed (for metrics) */
  toolCalls?: number;
  toolErrors?: number;
}

export interface Environment {
  /** the model ended a turn (`text`: that turn's text) */
  step(text: string): Promise<EnvironmentReply> | EnvironmentReply;
  /** the episode is over (release what the environment holds) */
  close?(): Promise<void> | void;
}

/** A fresh environment for each episode, from the episode's dataset example. */
export type EnvironmentFactory = (example: Example) => Environment;

export interface ToolEnvironmentOptions {
  /** time one call may take, in ms (default 10 000) */
  timeoutMs?: number;
  /** characters of one response at most; longer ones are cut (verl max_tool_response_length, default 256) */
  maxResponseChars?: number;
}

/** The environment that answers a turn's tool calls (all of them, concurrently) and ends the episode at a turn without one. */
export function toolEnvironment(
  tools: readonly Tool[],
  format: ToolFormat,
  opts: ToolEnvironmentOptions = {},
): Environment {
  const byName = toolbox(tools);
  const timeout = opts.timeoutMs ?? 10_000,
    maxChars = opts.maxResponseChars ?? 256;
  return {
    async step(text) {
      const calls = format.parse(text);
      if (calls.length === 0) return { done: true };
      const results = await Promise.all(calls.map((c) => callTool(byName, c, timeout)));
      const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, maxChars)}…(truncated)` : s);
      return {
        responses: results.map((r) => cut(r.content)),
        toolCalls: calls.length,
        toolErrors: results.filter((r) => !r.ok).length,
      };
    },
  };
}
