/**
 * One multi-turn episode, whether the embedded decoder or a rollout server samples it: after each model turn the environment answers, its answer
 * is rendered by the tool format and tokenized, and the episode goes on until the environment ends it, the model
 * has taken `maxTurns` turns, or the token budget (`maxTokens`, sampled and inserted tokens together, as verl's
 * response_length) leaves no room for the answer. Inserted tokens are kept as tokens (never re-tokenized with
 * the text around them), so the trainer scores exactly the sequence that was sampled.
 */
import type { Completion, EpisodeStats } from './completion.ts';
import type { Environment } from './tools/environment.ts';
import type { ToolFormat } from './tools/tool-format.ts';
import { GrpoError } from '../errors.ts';

export interface AgentLoop {
  /** a fresh environment for episode `sampleIndex` of prompt `promptIndex` */
  environment: (promptIndex: number, sampleIndex: number) => Environment;
  format: ToolFormat;
  /** model turns per episode at most (verl max_assistant_turns) */
  maxTurns: number;
  /** text → token ids, without BOS (inserted responses) */
  encode: (text: string) => number[];
  /** token ids → text (a turn's text for the environment) */
  decode: (ids: number[]) => string;
}

export function checkAgentLoop(loop: AgentLoop): void {
  if (!(Number.isInteger(loop.maxTurns) && loop.maxTurns >= 1))
    throw new GrpoError('config', `max_turns must be a positive integer, got ${loop.maxTurns}`);
}

/** The environment side of one episode; the episode loops call `afterTurn` each time the model stops. */
export class Episode {
  readonly stats: EpisodeStats = { turns: 0, toolCalls: 0, toolErrors: 0, turnRewards: [] };
  /** completion index where the current turn began */
  private turnStart = 0;
  private readonly env: Environment;

  constructor(
    private readonly loop: AgentLoop,
    readonly completion: Completion,
    private readonly maxTokens: number,
  ) {
    this.env = loop.environment(completion.promptIndex, completion.sampleIndex);
    completion.episode = this.stats;
  }

  /** The model ended a turn: the tokens to append (the environment's answer), or null when the episode is over. */
  async afterTurn(): Promise<number[] | null> {
    const c = this.completion;
    this.stats.turns++;
    if (c.finishReason === 'length' || this.stats.turns >= this.loop.maxTurns) return null;
    const reply = await this.env.step(this.loop.decode(c.tokens.slice(this.turnStart)));
    this.stats.toolCalls += reply.toolCalls ?? 0;
    this.stats.toolErrors += reply.toolErrors ?? 0;
    if (reply.reward !== undefined) this.stats.turnRewards.push({ reward: reply.reward, at: c.tokens.length - 1 });
    if (reply.done || !reply.responses?.length) return null;
    const ids = this.loop.encode(this.loop.format.render(reply.responses));
    // an answer that leaves no room for another sampled token ends the episode as truncated
    if (ids.length === 0 || ids.length > this.maxTokens - c.tokens.length - 1) {
      c.finishReason = 'length';
      return null;
    }
    this.turnStart = c.tokens.length + ids.length;
    return ids;
  }

  async close(): Promise<void> {
    await this.env.close?.();
  }
}
