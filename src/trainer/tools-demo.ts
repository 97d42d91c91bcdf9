/**
 * The multi-turn tool demo's model and agent: models/tools/ (made by `npm run demo:tools-pretrain`) answers the
 * embedded multiplication task, calling the calculator in the plain-text format, one call per episode at most.
 */
import { fileURLToPath } from 'node:url';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import type { Example } from '../data/presets.ts';
import type { AgentLoop } from '../rollout/agent-loop.ts';
import { calculatorTool } from '../rollout/tools/calculator.ts';
import { toolEnvironment } from '../rollout/tools/environment.ts';
import { plainFormat } from '../rollout/tools/tool-format.ts';

export const TOOLS_MODEL_DIR = fileURLToPath(new URL('../../models/tools', import.meta.url));

/** The agent loop configs/demo-tools.yaml sets up (environment: calculator, plain, max_turns 2), for scripts and tests. */
export function demoToolsAgent(tokenizer: Tokenizer): (examples: readonly Example[]) => AgentLoop {
  const tools = [calculatorTool()];
  const format = plainFormat(tools);
  return () => ({
    environment: () => toolEnvironment(tools, format),
    format, maxTurns: 2,
    encode: (t) => tokenizer.encode(t, { addBos: false }),
    decode: (ids) => tokenizer.decode(ids),
  });
}
