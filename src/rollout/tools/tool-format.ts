/**
 * How tool calls and responses are written in the model's text.
 *
 * - `hermes`: Qwen / Hermes function calling through the model's chat template. The model writes
 *   `<tool_call>{"name": …, "arguments": …}</tool_call>` and ends its turn (end-of-turn token); each response is
 *   a `tool` message rendered by the chat template, followed by the assistant header that opens the next turn —
 *   the text the template puts after the assistant's turn, as verl's tool agent loop and TRL render it.
 * - `plain`: for base models without a chat template, as Search-R1 (`<search>…</search>`) and ToRL write calls:
 *   `<name>body</name>`, the body being the tool's plain argument; decoding stops at `</name>`, and each response
 *   is inserted as `<tool_response>…</tool_response>`.
 */
import type { Tokenizer } from '../../model/tokenizer/tokenizer.ts';
import { GrpoError } from '../../errors.ts';
import { plainArgumentOf, type Tool, type ToolCall } from './tool.ts';

export interface ToolFormat {
  name: 'hermes' | 'plain';
  /** stop strings that end a turn at a call (a turn also ends at end-of-sequence) */
  stop: string[];
  /** the calls in one turn's text */
  parse(text: string): ToolCall[];
  /** the text inserted after a turn that made calls: the responses, and whatever opens the model's next turn */
  render(responses: string[]): string;
}

export const TOOL_FORMATS = ['hermes', 'plain'] as const;

export function toolFormat(
  name: (typeof TOOL_FORMATS)[number],
  tools: readonly Tool[],
  tokenizer: Tokenizer,
): ToolFormat {
  if (name === 'hermes') return hermesFormat(tokenizer);
  if (name === 'plain') return plainFormat(tools);
  throw new GrpoError('config', `unknown tool format '${name as string}'; use ${TOOL_FORMATS.join(' or ')}`);
}

const TOOL_CALL = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;

/** Calls written as Hermes JSON in <tool_call> tags; arguments may be an object or a JSON string of one. */
export function parseHermesCalls(text: string): ToolCall[] {
  return [...text.matchAll(TOOL_CALL)].map((m): ToolCall => {
    let call: unknown;
    try {
      call = JSON.parse(m[1]);
    } catch (e) {
      return { name: '', arguments: {}, error: `the tool call is not valid JSON (${(e as Error).message})` };
    }
    const c = call as { name?: unknown; arguments?: unknown };
    if (typeof c?.name !== 'string') return { name: '', arguments: {}, error: 'the tool call needs a "name"' };
    let args = c.arguments ?? {};
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch {
        return { name: c.name, arguments: {}, error: 'the tool call\'s "arguments" is not a JSON object' };
      }
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      return { name: c.name, arguments: {}, error: 'the tool call\'s "arguments" must be an object' };
    return { name: c.name, arguments: args as Record<string, unknown> };
  });
}

export function hermesFormat(tokenizer: Tokenizer): ToolFormat {
  if (!tokenizer.chatTemplate)
    throw new GrpoError(
      'config',
      "tool format 'hermes' needs a tokenizer with a chat template; use format 'plain' for base models",
    );
  const eos = tokenizer.eosIds.map((id) => tokenizer.idToToken(id)).filter((t): t is string => !!t);
  const base = [
    { role: 'user', content: 'Q' },
    { role: 'assistant', content: 'A' },
  ];
  const before = tokenizer.applyChatTemplate(base);
  // what the template writes after the assistant's end-of-turn token (Qwen: "\n"), which the model does not sample
  const end = Math.max(
    ...eos.map((t) => {
      const at = before.lastIndexOf(t);
      return at < 0 ? -1 : at + t.length;
    }),
  );
  if (end < 0)
    throw new GrpoError(
      'config',
      `tool format 'hermes': the chat template does not end an assistant turn with the end-of-sequence token (${eos.join(', ')})`,
    );
  const afterTurn = before.slice(end);
  return {
    name: 'hermes',
    stop: [],
    parse: parseHermesCalls,
    render(responses) {
      const after = tokenizer.applyChatTemplate([...base, ...responses.map((content) => ({ role: 'tool', content }))], {
        addGenerationPrompt: true,
      });
      if (!after.startsWith(before))
        throw new GrpoError(
          'template',
          "tool format 'hermes': the chat template renders earlier turns differently once tool messages follow; it cannot extend a conversation turn by turn",
        );
      return afterTurn + after.slice(before.length);
    },
  };
}

export function plainFormat(tools: readonly Tool[]): ToolFormat {
  const names = tools.map((t) => t.name);
  const escaped = names.map((n) => n.replace(/[-]/g, '\\-')).join('|');
  const call = new RegExp(`<(${escaped})>([\\s\\S]*?)</\\1>`, 'g');
  return {
    name: 'plain',
    stop: names.map((n) => `</${n}>`),
    parse: (text) =>
      (names.length === 0 ? [] : [...text.matchAll(call)]).map((m) => {
        const tool = tools.find((t) => t.name === m[1])!;
        const arg = plainArgumentOf(tool);
        return arg === undefined ? { name: tool.name, arguments: {} } : { name: tool.name, arguments: { [arg]: m[2] } };
      }),
    render: (responses) => responses.map((r) => `<tool_response>${r}</tool_response>`).join(''),
  };
}
