/**
 * Decoded sequences as the OpenAI response's choices: text cut at stop strings, finish reason, and per-token
 * log-probs with their most likely alternatives.
 *
 * Log-probs are the decoder's own (rollout/generate.ts): log softmax(logits / T), with T = 1 when greedy — the
 * numbers the trainer recomputes. Alternatives (top_logprobs) come from one teacher-forced pass over prompt +
 * completion under the same temperature, only when asked for.
 */
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { Completion } from '../rollout/completion.ts';
import { logSumExp } from '../rollout/sampling.ts';
import { completionText } from './completion-text.ts';
import type { ServedRequest } from './request-schema.ts';

export interface TokenChoice {
  token: string;
  bytes: number[];
  logprob: number;
}

export interface TokenLogprob extends TokenChoice {
  id: number;
  /** the most likely tokens at this position, best first (empty unless asked for) */
  top: TokenChoice[];
}

export interface ServedChoice {
  /** OpenAI choice index: prompt index × n + sample index */
  index: number;
  promptIndex: number;
  text: string;
  /** per kept token, the text it adds (joined: `text`) — what streaming sends */
  pieces: string[];
  /** per kept token, characters of `text` before it */
  offsets: number[];
  /** per kept token, when log-probs were asked for */
  logprobs: TokenLogprob[] | null;
  finishReason: 'stop' | 'length';
  /** tokens generated, an end-of-sequence token included */
  completionTokens: number;
}

/** What rendering a request's choices reads: the tokenizer, and the model for the top_logprobs pass. */
export interface ChoiceRenderer {
  model: LlamaModel;
  tokenizer: Tokenizer;
  /** whether the request decoded with LoRA adapters (the top_logprobs pass uses them alike) */
  adapters: boolean;
}

/** A finished request's choices. */
export function renderChoices(
  renderer: ChoiceRenderer,
  prompts: number[][],
  completions: readonly Completion[],
  r: ServedRequest,
): ServedChoice[] {
  return completions.map((c) => renderChoice(renderer, prompts[c.promptIndex], c, r));
}

/** A running request's unfinished choices, each with how many of its pieces are final (what a stream may send). */
export function renderRunningChoices(
  renderer: ChoiceRenderer,
  prompts: number[][],
  completions: readonly Completion[],
  r: ServedRequest,
): { choice: ServedChoice; final: number }[] {
  const holdback = Math.max(0, ...r.stop.map((x) => x.length - 1));
  return renderChoices(
    renderer,
    prompts,
    completions.filter((c) => c.finishReason !== 'stop' && c.tokens.length < r.maxTokens),
    { ...r, topLogprobs: 0 },
  ).map((choice) => ({ choice, final: finalPieces(choice, holdback) }));
}

function renderChoice(renderer: ChoiceRenderer, prompt: number[], c: Completion, r: ServedRequest): ServedChoice {
  const tokenizer = renderer.tokenizer;
  const prevId = prompt[prompt.length - 1];
  const t = completionText(tokenizer, prevId, c.tokens, r.stop, r.includeStop);
  const kept = c.tokens.slice(0, t.keptTokens);
  let logprobs: TokenLogprob[] | null = null;
  if (r.logprobs) {
    const alternatives =
      r.topLogprobs > 0 && kept.length > 0
        ? topAlternatives(renderer, prompt, kept, r.temperature, r.topLogprobs)
        : null;
    logprobs = kept.map((id, i) => {
      const prev = i === 0 ? prevId : kept[i - 1];
      const choice = (tid: number, lp: number) =>
        r.tokensAsIds
          ? { token: `token_id:${tid}`, bytes: Array.from(tokenizer.tokenBytes(tid, prev)), logprob: lp }
          : tokenChoice(tokenizer, tid, prev, lp);
      return {
        id,
        ...choice(id, c.logprobs[i]),
        top: alternatives ? alternatives[i].map((a) => choice(a.id, a.logprob)) : [],
      };
    });
  }
  return {
    index: c.promptIndex * r.n + c.sampleIndex,
    promptIndex: c.promptIndex,
    text: t.text,
    pieces: t.pieces,
    offsets: t.offsets,
    logprobs,
    finishReason: t.stopped ? 'stop' : c.finishReason,
    completionTokens: c.tokens.length,
  };
}

function tokenChoice(tokenizer: Tokenizer, id: number, prevId: number, logprob: number): TokenChoice {
  const bytes = Array.from(tokenizer.tokenBytes(id, prevId));
  return { token: tokenString(bytes), bytes, logprob };
}

/** per completion position, the k most likely tokens under softmax(logits / T) (T = 1 when greedy) */
function topAlternatives(
  renderer: ChoiceRenderer,
  prompt: number[],
  completion: number[],
  temperature: number,
  k: number,
): { id: number; logprob: number }[][] {
  const seq = [...prompt, ...completion.slice(0, -1)];
  const logits = renderer.model.logits([seq], { adapters: renderer.adapters })[0];
  const V = renderer.model.config.vocabSize;
  const scale = temperature > 0 ? 1 / temperature : 1;
  return completion.map((_, i) => {
    const row = logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
    const lse = logSumExp(row, scale);
    return topIndices(row, Math.min(k, V)).map((id) => ({ id, logprob: row[id] * scale - lse }));
  });
}

/** Leading pieces that cannot change: all but the last (its bytes may be an unfinished character), and none a stop string of up to holdback + 1 characters could still start in. */
function finalPieces(c: ServedChoice, holdback: number): number {
  const limit = c.text.length - holdback;
  let k = 0;
  while (k < c.pieces.length - 1 && c.offsets[k] + c.pieces[k].length <= limit) k++;
  return k;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A token as text; a token that is only part of a UTF-8 character is written as its bytes, "bytes:\\xe2\\x80",
 * as OpenAI does, so different partial tokens stay distinguishable (its `bytes` field holds the exact bytes).
 */
export function tokenString(bytes: readonly number[]): string {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
  }
}

/** indices of the k largest values, largest first (ties: lower index first) */
export function topIndices(values: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (best.length === k && values[i] <= values[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(i);
    while (at > 0 && values[best[at - 1]] < values[i]) {
      best[at] = best[at - 1];
      at--;
    }
    best[at] = i;
  }
  return best;
}
