/**
 * Prompt templates: how an example's prompt becomes the text the model continues — as is, the R1-Zero template for
 * base models, or the model's own chat template — and how that text becomes token ids. SFT, RL and evaluation all
 * render prompts through promptTemplate, so one example gives one prompt text in every stage of a pipeline.
 */
import type { Example } from './presets.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
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

/** The `data.template` key: the prompt as is, the R1-Zero template, or the model's chat template. */
export type TemplateKind = 'raw' | 'r1_zero' | 'chat';

export interface PromptTemplateOptions {
  /** system message of the chat template (`data.system`) */
  system?: string | null;
  /** tool schemas the chat template shows the model (multi-turn runs in the hermes format) */
  tools?: unknown[];
}

/** The configured template over a tokenizer: `data.template` and `data.system` as every command reads them. */
export function promptTemplate(
  kind: TemplateKind,
  tokenizer: Tokenizer,
  opts: PromptTemplateOptions = {},
): PromptTemplate {
  if (kind === 'raw') return (e) => e.prompt;
  if (kind === 'r1_zero') return r1ZeroTemplate();
  if (!tokenizer.chatTemplate)
    throw new GrpoError(
      'config',
      "template 'chat' needs a tokenizer with a chat template; use template 'raw' or 'r1_zero'",
    );
  const tools = opts.tools?.length ? { tools: opts.tools } : {};
  return chatTemplate(
    (messages, o) =>
      tokenizer.applyChatTemplate(
        messages.map((m) => ({ ...m })),
        { ...o, ...tools },
      ),
    { system: opts.system ?? undefined },
  );
}

/**
 * Prompt text → ids with the tokenizer's BOS, unless the text already starts with the BOS marker (a rendered
 * chat template carries it), so BOS is never doubled.
 */
export function encodePrompt(tokenizer: Tokenizer, text: string): number[] {
  const bos = tokenizer.bosId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosId);
  return tokenizer.encode(text, bos && text.startsWith(bos) ? { addBos: false } : {});
}
