/** Prompt templates: the raw R1-Zero template for base models, or the model's own chat template. */
import type { Example } from './presets.ts';
import { GrpoError } from '../errors.ts';

export type PromptTemplate = (example: Example) => string;

/** DeepSeek-R1 paper, Table 1: the template R1-Zero was trained with ("prompt" replaced by the question). */
export const R1_ZERO_TEMPLATE =
  'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. ' +
  'The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. ' +
  'The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, ' +
  'i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: {prompt}. Assistant:';

export interface R1ZeroOptions {
  /**
   * End the prompt with "<think>" so the model starts inside its reasoning (TinyZero does this);
   * pair with formatReward({ thinkOpenedInPrompt: true }). Default false.
   */
  openThink?: boolean;
}

/** The R1-Zero template for base models (no chat template). */
export function r1ZeroTemplate(opts: R1ZeroOptions = {}): PromptTemplate {
  return (example) => {
    const question = example.prompt.trim().replace(/[.。]$/, '');
    return R1_ZERO_TEMPLATE.replace('{prompt}', () => question) + (opts.openThink ? ' <think>' : '');
  };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The tokenizer's chat template (e.g. @huggingface/jinja over tokenizer_config.json's chat_template). */
export type ApplyChatTemplate = (messages: ChatMessage[], opts: { addGenerationPrompt: boolean }) => string;

export interface ChatPromptOptions {
  /** System message; none by default (R1 recommends none). */
  system?: string;
  /** Appended to the user message, e.g. R1's "Please reason step by step, and put your final answer within \boxed{}." */
  instruction?: string;
}

/** A template that renders [system?, user] through the model's chat template, ready for generation. */
export function chatTemplate(apply: ApplyChatTemplate, opts: ChatPromptOptions = {}): PromptTemplate {
  return (example) => {
    const messages: ChatMessage[] = [];
    if (opts.system) messages.push({ role: 'system', content: opts.system });
    messages.push({
      role: 'user',
      content: opts.instruction ? `${example.prompt}\n${opts.instruction}` : example.prompt,
    });
    const rendered = apply(messages, { addGenerationPrompt: true });
    if (typeof rendered !== 'string' || rendered === '')
      throw new GrpoError('data', 'chat template returned an empty prompt; check the chat template function');
    return rendered;
  };
}

/** R1's recommended instruction for math prompts (DeepSeek-R1 model card usage recommendations). */
export const BOXED_INSTRUCTION = 'Please reason step by step, and put your final answer within \\boxed{}.';
