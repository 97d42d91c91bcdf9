// Deterministic stand-ins for LLMs: chat models whose answers are a function of the prompt, recording calls.
import type { ChatMessage, ChatModel, GenerationOptions, GenerationResult } from '../../src/rollout/chat-model.ts';

export interface RecordedCall {
  messages: readonly ChatMessage[];
  opts: GenerationOptions;
}

/** `reply(messages, opts, sampleIndex)` is asked once per requested sample (opts.n, default 1). */
export function scriptedModel(
  name: string,
  reply: (messages: readonly ChatMessage[], opts: GenerationOptions, sample: number) => string,
): ChatModel & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  return {
    name,
    calls,
    async chat(messages, opts = {}): Promise<GenerationResult> {
      calls.push({ messages, opts });
      const n = opts.n ?? 1;
      return {
        choices: Array.from({ length: n }, (_, k) => ({ text: reply(messages, opts, k), finishReason: 'stop' })),
      };
    },
  };
}

export const systemOf = (messages: readonly ChatMessage[]) => messages.find((m) => m.role === 'system')?.content ?? '';
export const userOf = (messages: readonly ChatMessage[]) =>
  messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');

/** Which Training-Free GRPO critic stage a prompt belongs to (by phrases of our prompts). */
export function criticStage(
  messages: readonly ChatMessage[],
): 'summary' | 'critique' | 'group_update' | 'batch_update' {
  const s = systemOf(messages);
  if (s.includes('compact account')) return 'summary';
  if (s.includes('several attempts by the solver')) return 'critique';
  if (s.includes('You maintain the solver')) return 'group_update';
  if (s.includes('Several reviewers')) return 'batch_update';
  throw new Error(`unrecognised critic prompt: ${s.slice(0, 80)}`);
}
