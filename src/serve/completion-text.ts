/**
 * The text of one completion, split per token, exactly as both the JSON answer and the SSE stream send it.
 * Pieces come from one StreamDecoder primed with the prompt's last token, so SentencePiece's "no space after
 * BOS" rule and characters whose bytes span tokens come out as in the whole text; special tokens add no text.
 * Like OpenAI, the text ends before the first stop string found (the stop string itself is not returned), unless
 * `includeStop` (vLLM's include_stop_str_in_output) keeps it, with the tokens that wrote it.
 */
import { StreamDecoder, type Tokenizer } from '../model/tokenizer/index.ts';

export interface CompletionText {
  text: string;
  /** per kept token: the text it adds (the last may be cut short by a stop string); joined they are `text` */
  pieces: string[];
  /** per kept token: characters of `text` before it (OpenAI `text_offset`) */
  offsets: number[];
  /** how many leading tokens the text covers: all, or those that start before the stop string */
  keptTokens: number;
  /** a stop string ended the text */
  stopped: boolean;
}

/** The decoded text of `tokens` after a prompt ending in `prevId` (for stop-string checks during generation). */
export function decodeAfter(tokenizer: Tokenizer, prevId: number | undefined, tokens: readonly number[]): string {
  const decoder = new StreamDecoder(tokenizer, { prevId });
  let text = '';
  for (const t of tokens) text += decoder.push(t);
  return text + decoder.flush();
}

/** The first position where any stop string starts, or -1. */
export function firstStop(text: string, stop: readonly string[]): number {
  let cut = -1;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut;
}

export function completionText(
  tokenizer: Tokenizer,
  prevId: number | undefined,
  tokens: readonly number[],
  stop: readonly string[],
  includeStop = false,
): CompletionText {
  const decoder = new StreamDecoder(tokenizer, { prevId });
  const raw = tokens.map((t) => decoder.push(t));
  // bytes of an unfinished character at the very end belong to the last token
  if (raw.length > 0) raw[raw.length - 1] += decoder.flush();
  const full = raw.join('');
  const cut = firstStop(full, stop);
  const end = cut < 0 ? full.length : includeStop ? cut + stop.find((s) => full.startsWith(s, cut))!.length : cut;
  const pieces: string[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const piece of raw) {
    if (cut >= 0 && at >= end) break;
    offsets.push(at);
    pieces.push(piece.slice(0, Math.max(0, end - at)));
    at += piece.length;
  }
  return { text: full.slice(0, end), pieces, offsets, keptTokens: pieces.length, stopped: cut >= 0 };
}
