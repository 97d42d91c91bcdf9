/**
 * A run's multi-turn setup: the tools (built-in ones the config names, and user-defined ones passed to train()),
 * their call format, and the environment each episode gets — the config's tool environment, or a user's
 * environment factory (TRL's environment_factory). None of it when the run has no environment.
 */
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { Example } from '../data/index.ts';
import type { AgentLoop } from '../rollout/agent-loop.ts';
import { toolEnvironment, type EnvironmentFactory } from '../rollout/tools/environment.ts';
import { toolFormat } from '../rollout/tools/tool-format.ts';
import { toolbox, toolSchema, type Tool } from '../rollout/tools/tool.ts';
import { calculatorTool } from '../rollout/tools/calculator.ts';
import { pythonTool } from '../rollout/tools/python-tool.ts';
import { pythonIsolation } from '../rewards/code/python.ts';
import { environmentSchema, type TrainConfig } from './config/schema.ts';

export interface AgentOptions {
  /** user-defined tools, beside the config's built-in ones */
  tools?: Tool[];
  /** a fresh environment per episode from its example, instead of the tool environment */
  environment?: EnvironmentFactory;
}

/** The agent loop of a batch of prompts (their examples, by prompt index). */
export type AgentLoopFor = (examples: readonly Example[]) => AgentLoop;

export interface AgentSetup {
  loopFor: AgentLoopFor;
  /** tool schemas for the chat template (hermes format) */
  toolSchemas: Record<string, unknown>[];
}

export function agentSetup(config: TrainConfig, tokenizer: Tokenizer, opts: AgentOptions = {}): AgentSetup | null {
  if (!config.environment && !opts.tools?.length && !opts.environment) return null;
  const env = config.environment ?? environmentSchema.parse({});
  const timeoutMs = env.tool_timeout_s * 1000;
  const builtins: Record<(typeof env.tools)[number], () => Tool> = {
    calculator: calculatorTool,
    // the sandbox refuses weak isolation now, not at the first call the model makes
    python: () => {
      pythonIsolation();
      return pythonTool({ timeoutMs });
    },
  };
  const tools = [...env.tools.map((name) => builtins[name]()), ...(opts.tools ?? [])];
  toolbox(tools);
  const format = toolFormat(env.format, tools, tokenizer);
  const factory: EnvironmentFactory =
    opts.environment ?? (() => toolEnvironment(tools, format, { timeoutMs, maxResponseChars: env.max_response_chars }));
  return {
    toolSchemas: format.name === 'hermes' ? tools.map(toolSchema) : [],
    loopFor: (examples) => ({
      environment: (promptIndex) => factory(examples[promptIndex]),
      format,
      maxTurns: env.max_turns,
      encode: (text) => tokenizer.encode(text, { addBos: false }),
      decode: (ids) => tokenizer.decode(ids),
    }),
  };
}
