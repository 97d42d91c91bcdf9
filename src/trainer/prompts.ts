/**
 * A run's prompts: load the examples (file or embedded task), render each through the configured template,
 * tokenize, drop over-long ones, and split off the held-out set.
 */
import {
  loadDataset,
  heldOutSplit,
  r1ZeroTemplate,
  chatTemplate,
  type Example,
  type PromptTemplate,
} from '../data/index.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { TrainConfig } from './config/schema.ts';
import { GrpoError } from '../errors.ts';

/** Embedded tasks by name, for `embedded:<name>` datasets: examples for a split, deterministic from a seed. */
export type EmbeddedTasks = Record<string, (split: 'train' | 'test', seed: number) => Example[]>;

export interface PromptSet {
  examples: Example[];
  promptIds: number[][];
  /** prompts left out for being longer than the budget (or empty) */
  dropped: number;
}

export async function loadExamples(
  spec: string,
  config: TrainConfig,
  split: 'train' | 'test',
  tasks: EmbeddedTasks,
): Promise<Example[]> {
  if (spec.startsWith('embedded:')) {
    const name = spec.slice('embedded:'.length);
    const task = tasks[name];
    if (!task)
      throw new GrpoError(
        'config',
        `data: unknown embedded task '${name}'; available: ${Object.keys(tasks).join(', ') || 'none'}`,
      );
    return task(split, config.seed);
  }
  return loadDataset(spec, { mapping: config.data.mapping as never });
}

/** `tools`: schemas the chat template shows the model (multi-turn runs in the hermes format) */
export function promptTemplate(config: TrainConfig, tokenizer: Tokenizer, tools?: unknown[]): PromptTemplate {
  const t = config.data.template;
  if (t === 'raw') return (e) => e.prompt;
  if (t === 'r1_zero') return r1ZeroTemplate();
  return chatTemplate(
    (messages, o) =>
      tokenizer.applyChatTemplate(
        messages.map((m) => ({ ...m })),
        { ...o, ...(tools?.length ? { tools } : {}) },
      ),
    { system: config.data.system },
  );
}

export function tokenizePrompts(
  examples: Example[],
  config: TrainConfig,
  tokenizer: Tokenizer,
  budget = config.data.max_prompt_tokens,
  tools?: unknown[],
): PromptSet {
  const render = promptTemplate(config, tokenizer, tools);
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
  if (config.data.eval) heldOut = await loadExamples(config.data.eval, config, 'test', tasks);
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
