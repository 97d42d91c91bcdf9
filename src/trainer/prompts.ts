/**
 * A run's prompts: load the examples (file or embedded task), render each through the configured template,
 * tokenize, drop over-long ones, and split off the held-out set.
 */
import { heldOutSplit, promptTemplate, readExamples, type EmbeddedTasks, type Example } from '../data/index.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { TrainConfig } from './config/schema.ts';
import { GrpoError } from '../errors.ts';

export interface PromptSet {
  examples: Example[];
  promptIds: number[][];
  /** prompts left out for being longer than the budget (or empty) */
  dropped: number;
}

/** A run's `data.train` or `data.eval`: `data.mapping` (default: the columns or preset the file shows). */
export function loadExamples(
  path: string,
  config: TrainConfig,
  split: 'train' | 'held_out',
  tasks: EmbeddedTasks,
): Promise<Example[]> {
  return readExamples({
    path,
    split,
    mapping: config.data.mapping as never,
    seed: config.seed,
    tasks,
    columnAdvice: 'set data.mapping to a preset name or a field map',
  });
}

export function tokenizePrompts(
  examples: Example[],
  config: TrainConfig,
  tokenizer: Tokenizer,
  budget = config.data.max_prompt_tokens,
  tools?: unknown[],
): PromptSet {
  const render = promptTemplate(config.data.template, tokenizer, { system: config.data.system, tools });
  const out: PromptSet = { examples: [], promptIds: [], dropped: 0 };
  for (const e of examples) {
    // a chat template writes its own special tokens; otherwise the tokenizer decides about BOS
    const ids = tokenizer.encode(render(e), config.data.template === 'chat' ? { addBos: false } : {});
    if (ids.length === 0 || ids.length > budget) {
      out.dropped++;
      continue;
    }
    out.examples.push(e);
    out.promptIds.push(ids);
  }
  return out;
}

/**
 * The longest prompt a run can use: data.max_prompt_tokens, and room for the completion in the model's context
 * (a prompt plus its completion past the context would decode garbage, and an engine would cut it differently).
 */
export function promptBudget(config: TrainConfig, context: number): number {
  const completion = Math.max(config.rollout.max_tokens, config.training.eval_max_tokens ?? 0);
  if (completion >= context) {
    throw new GrpoError(
      'config',
      `rollout.max_tokens ${completion} leaves no room for a prompt in the model's context of ${context} tokens; lower it (and training.eval_max_tokens) below ${context}`,
    );
  }
  return Math.min(config.data.max_prompt_tokens, context - completion);
}

/** Train and held-out prompts (the eval file when given, else a held-out split of train), each within `budget` tokens. */
export async function runPrompts(
  config: TrainConfig,
  tokenizer: Tokenizer,
  tasks: EmbeddedTasks,
  budget = config.data.max_prompt_tokens,
  tools?: unknown[],
): Promise<{ train: PromptSet; eval: PromptSet }> {
  let train = await loadExamples(config.data.train, config, 'train', tasks);
  let heldOut: Example[];
  if (config.data.eval) heldOut = await loadExamples(config.data.eval, config, 'held_out', tasks);
  else {
    const split = heldOutSplit(train, { size: config.data.eval_size, seed: config.seed });
    train = split.train;
    heldOut = split.heldOut;
  }
  const t = tokenizePrompts(train, config, tokenizer, budget, tools);
  const e = tokenizePrompts(heldOut.slice(0, config.data.eval_size), config, tokenizer, budget, tools);
  if (t.examples.length === 0)
    throw new GrpoError(
      'data',
      `no training prompt in ${config.data.train} fits ${budget} tokens (data.max_prompt_tokens ${config.data.max_prompt_tokens}, the model's context less rollout.max_tokens)`,
    );
  return { train: t, eval: e };
}
