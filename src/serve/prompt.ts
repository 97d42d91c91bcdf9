/**
 * From a request to prompt token ids that fit the model's context.
 *
 * Chat: the tokenizer's chat template with add_generation_prompt (as vLLM and transformers do). A tokenizer
 * without a template (llama2.c's, most base models') gets a plain fallback, one "role: content" line per
 * message and then "assistant:", e.g.
 *     system: Be brief.
 *     user: Tell me a story.
 *     assistant:
 *
 * Fitting (with --truncate-prompts; request-prompts.ts): a prompt longer than context − max_tokens is cut from the
 * left (the oldest text goes first), keeping a leading BOS token, so long critic and reflection prompts still get an
 * answer on a small-context model.
 */
import type { ChatMessage, Tokenizer } from '../model/tokenizer/index.ts';
import { badRequest } from './serve-error.ts';

export type PromptMessage = Pick<ChatMessage, 'role' | 'content'>;

/** The plain chat rendering used when the tokenizer has no chat template. */
export function plainChatPrompt(messages: readonly PromptMessage[]): string {
  return [...messages.map((m) => `${m.role}: ${m.content}`), 'assistant:'].join('\n');
}

/** The text of a chat prompt: the chat template when the tokenizer has one, else plainChatPrompt. */
export function chatPromptText(tokenizer: Tokenizer, messages: readonly PromptMessage[]): string {
  if (!tokenizer.chatTemplate) return plainChatPrompt(messages);
  return tokenizer.applyChatTemplate(
    messages.map((m) => ({ role: m.role, content: m.content })),
    { addGenerationPrompt: true },
  );
}

/** The BOS token's text, when the tokenizer has a BOS that is a special token (e.g. "<|begin_of_text|>"). */
function bosText(tokenizer: Tokenizer): string | null {
  if (tokenizer.bosId === undefined) return null;
  for (const [text, id] of tokenizer.specialTokens) if (id === tokenizer.bosId) return text;
  return null;
}

/**
 * Text far longer than the context is cut (from the left, as fitting would cut its tokens) before it is tokenised:
 * tokenising a 30 MB prompt only to keep its last few thousand tokens would stall the server. No tokenizer averages
 * more than 32 characters a token, so what is kept still fills the context; below 64 K characters nothing is cut, so the
 * reported truncated_prompt_tokens is exact for any prompt of a sane size (above, it counts from the kept text).
 */
export const MAX_CHARS_PER_TOKEN = 32;
export const MIN_KEPT_CHARS = 1 << 16;

function keepTail(text: string, context: number): string {
  const max = Math.max(context * MAX_CHARS_PER_TOKEN, MIN_KEPT_CHARS);
  return text.length > max ? text.slice(text.length - max) : text;
}

export function encodeChatPrompt(
  tokenizer: Tokenizer,
  messages: readonly PromptMessage[],
  context = Infinity,
): number[] {
  const text = keepTail(chatPromptText(tokenizer, messages), context);
  // templates that write the BOS marker themselves must not get a second one
  const bos = bosText(tokenizer);
  return tokenizer.encode(text, bos !== null && text.startsWith(bos) ? { addBos: false } : {});
}

/** A completion prompt (text, or token ids checked against the vocabulary) as token ids. */
export function encodeCompletionPrompt(
  tokenizer: Tokenizer,
  prompt: string | number[],
  vocabSize: number,
  field: string,
  context = Infinity,
): number[] {
  if (typeof prompt !== 'string') {
    const bad = prompt.findIndex((id) => id >= vocabSize);
    if (bad >= 0)
      throw badRequest(
        field,
        `'${field}': token id ${prompt[bad]} at position ${bad} is outside the vocabulary (size ${vocabSize})`,
      );
    return prompt;
  }
  const ids = tokenizer.encode(keepTail(prompt, context));
  if (ids.length === 0)
    throw badRequest(field, `'${field}': the prompt is empty and this tokenizer adds no BOS token; send some text`);
  return ids;
}

export interface FittedPrompt {
  tokens: number[];
  /** tokens cut from the left (0 when it fit) */
  truncated: number;
}

/** Keeps at most `budget` tokens: a leading BOS, then the newest tokens. */
export function fitPrompt(tokens: readonly number[], budget: number, bosId: number | undefined): FittedPrompt {
  if (tokens.length <= budget) return { tokens: [...tokens], truncated: 0 };
  const keepBos = bosId !== undefined && tokens[0] === bosId && budget >= 2;
  const tail = tokens.slice(tokens.length - (keepBos ? budget - 1 : budget));
  return { tokens: keepBos ? [tokens[0], ...tail] : tail, truncated: tokens.length - budget };
}
