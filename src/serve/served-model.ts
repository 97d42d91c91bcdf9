/**
 * The embedded engine as the server uses it: prompts (token ids that already fit the context) and OpenAI
 * sampling options in, finished choices out — text cut at stop strings, finish reason, and per-token log-probs
 * with their most likely alternatives. Requests decode in one running batch (ContinuousBatcher drives a
 * SequenceDecoder from here); one batch runs at a time.
 *
 * Log-probs are the engine's own (rollout/generate.ts): log softmax(logits / T), with T = 1 when greedy —
 * the numbers the trainer recomputes. Alternatives (top_logprobs) come from one teacher-forced pass over
 * prompt + completion under the same temperature, only when asked for.
 */
import { ServeError } from './serve-error.ts';
import { GrpoError } from '../errors.ts';
import type { LoadedModel } from '../model/io/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { checkWeightUpdate } from './weight-update.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import { SequenceDecoder } from '../rollout/sequence-decoder.ts';
import type { DecodeRequest } from '../rollout/decode-request.ts';
import type { Completion } from '../rollout/completion.ts';
import { readPeftAdapter, type PeftAdapter } from '../model/io/peft-adapter.ts';
import { loraSettings } from '../model/lora.ts';
import { logSumExp } from '../rollout/sampling.ts';
import { completionText, decodeAfter } from './completion-text.ts';
import type { SamplingRequest } from './request-schema.ts';

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

export type EngineRequest = Pick<
  SamplingRequest,
  'n' | 'temperature' | 'topP' | 'topK' | 'minP' | 'stop' | 'logprobs' | 'topLogprobs'
> &
  Partial<Pick<SamplingRequest, 'tokensAsIds' | 'ignoreEos' | 'includeStop'>> & {
    maxTokens: number;
    seed: number;
  };

export class ServedModel {
  /**
   * LoRA adapters served beside the base, by the name requests give as `model` (vLLM's runtime LoRA loading):
   * their PEFT tensors stay on the host and are put on the model when a request names them. A model opened with
   * an adapter serves it under the model's own name.
   */
  private readonly adapters = new Map<string, PeftAdapter>();
  /** the adapter whose tensors the model holds now */
  private active: string | null = null;

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    /** the id clients send as `model` and GET /v1/models lists */
    readonly name: string,
  ) {
    const lora = model.lora;
    if (lora) {
      const s = lora.settings;
      this.adapters.set(name, {
        options: { r: s.r, alpha: s.alpha, dropout: s.dropout, targetModules: s.targetModules, useRslora: s.useRslora },
        tensors: lora.save(),
      });
      this.active = name;
    }
  }

  /** names of the loaded adapters (the base's own one included, under the model's name) */
  get adapterNames(): string[] {
    return [...this.adapters.keys()].filter((n) => n !== this.name);
  }

  /** The model a request's `model` field names: the base (or its own adapter), or a loaded adapter. */
  serves(model: string): boolean {
    return model === this.name || this.adapters.has(model);
  }

  /** Load a PEFT adapter under `name`; it is checked against the model now (a misfit throws, nothing changes). */
  loadAdapter(name: string, dir: string): void {
    if (name === this.name || this.adapters.has(name))
      throw new GrpoError('adapter', `the LoRA adapter '${name}' has already been loaded`);
    const adapter = readPeftAdapter(dir);
    this.adapters.set(name, adapter);
    try {
      this.activate(name);
    } catch (e) {
      this.adapters.delete(name);
      this.active = null;
      throw e;
    }
  }

  unloadAdapter(name: string): void {
    if (name === this.name || !this.adapters.delete(name))
      throw new GrpoError('adapter_not_found', `no LoRA adapter '${name}' is loaded`);
    if (this.active === name) this.active = null;
  }

  /** Put the named adapter's tensors on the model (new adapters when its rank or targets differ). */
  private activate(name: string): void {
    if (this.active === name) return;
    const a = this.adapters.get(name)!;
    const s = this.model.lora?.settings,
      o = loraSettings(a.options);
    const fits =
      s &&
      s.r === o.r &&
      s.alpha === o.alpha &&
      s.useRslora === o.useRslora &&
      s.targetModules.join() === o.targetModules.join();
    (fits ? this.model.lora! : this.model.attachLora(a.options)).load(a.tensors);
    this.active = name;
  }

  /** positions the model attends over: prompt + completion must fit */
  get contextLength(): number {
    return this.model.config.maxSeqLen;
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get bosId(): number | undefined {
    return this.model.config.bosTokenId ?? this.tokenizer.bosId;
  }

  /**
   * Replaces the served weights in place with those of a checkpoint of the same architecture. Every config field
   * and every tensor's shape is checked before anything is written: a checkpoint that does not fit throws a
   * GrpoError with code 'weights_mismatch' naming what differs, and the served weights stay as they were.
   * Nothing holds copies of the weights — graphs (the model's cached ones, generate's per-call ones) reference
   * the weight tensors — so the next request computes with the new weights.
   */
  updateWeights(loaded: LoadedModel, source: string): { tensors: number; bytes: number } {
    checkWeightUpdate(this.model.weights, loaded, source);
    this.model.weights.load(loaded.weights);
    let tensors = 0,
      bytes = 0;
    for (const [name, t] of this.model.weights.byName) {
      if (!loaded.weights.has(name)) continue; // a value head the checkpoint lacks (zeroed by load)
      tensors++;
      bytes += t.numel * 4;
    }
    return { tensors, bytes };
  }

  /** A decoder for a batch of requests to the model `model` names (its adapter is put on the model now). */
  decoder(model: string | null, maxSequences: number): SequenceDecoder {
    const adapter = this.adapterFor(model);
    // an adapter unloaded while this request waited in the queue
    if (adapter && !this.adapters.has(adapter))
      throw new ServeError('model_not_found', `'model': the LoRA adapter '${adapter}' was unloaded`, 'model');
    if (adapter) this.activate(adapter);
    return new SequenceDecoder(this.model, { adapters: adapter !== null, maxSequences });
  }

  /** Add a request to a running batch: it samples as it would alone (its own seed), with its own settings. */
  add(decoder: SequenceDecoder, prompts: number[][], r: EngineRequest): DecodeRequest {
    return decoder.add(prompts, {
      n: r.n,
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      topK: r.topK,
      minP: r.minP,
      seed: r.seed,
      ...(r.ignoreEos ? { eosTokenIds: [] } : {}),
      stop: r.stop,
      // the prompt's last token primes the decoder (SentencePiece writes no space after BOS)
      decode: (ids, p) => decodeAfter(this.tokenizer, prompts[p][prompts[p].length - 1], ids),
    });
  }

  /** A finished request's choices. */
  choices(
    prompts: number[][],
    completions: readonly Completion[],
    r: EngineRequest,
    model: string | null,
  ): ServedChoice[] {
    const adapters = this.adapterFor(model) !== null;
    return completions.map((c) => this.choice(prompts[c.promptIndex], c, r, adapters));
  }

  /** A running request's unfinished choices, each with how many of its pieces are final (what a stream may send). */
  runningChoices(
    prompts: number[][],
    completions: readonly Completion[],
    r: EngineRequest,
    model: string | null,
  ): { choice: ServedChoice; final: number }[] {
    const holdback = Math.max(0, ...r.stop.map((x) => x.length - 1));
    return this.choices(
      prompts,
      completions.filter((c) => c.finishReason !== 'stop' && c.tokens.length < r.maxTokens),
      { ...r, topLogprobs: 0 },
      model,
    ).map((choice) => ({ choice, final: finalPieces(choice, holdback) }));
  }

  /** the adapter a request's `model` selects: a loaded one, the model's own, or none */
  private adapterFor(model: string | null): string | null {
    return model !== null && model !== this.name ? model : this.adapters.has(this.name) ? this.name : null;
  }

  private choice(prompt: number[], c: Completion, r: EngineRequest, adapters: boolean): ServedChoice {
    const prevId = prompt[prompt.length - 1];
    const t = completionText(this.tokenizer, prevId, c.tokens, r.stop, r.includeStop);
    const kept = c.tokens.slice(0, t.keptTokens);
    let logprobs: TokenLogprob[] | null = null;
    if (r.logprobs) {
      const alternatives =
        r.topLogprobs > 0 && kept.length > 0
          ? this.topAlternatives(prompt, kept, r.temperature, r.topLogprobs, adapters)
          : null;
      logprobs = kept.map((id, i) => {
        const prev = i === 0 ? prevId : kept[i - 1];
        const choice = (tid: number, lp: number) =>
          r.tokensAsIds
            ? { token: `token_id:${tid}`, bytes: Array.from(this.tokenizer.tokenBytes(tid, prev)), logprob: lp }
            : this.tokenChoice(tid, prev, lp);
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

  private tokenChoice(id: number, prevId: number, logprob: number): TokenChoice {
    const bytes = Array.from(this.tokenizer.tokenBytes(id, prevId));
    return { token: tokenString(bytes), bytes, logprob };
  }

  /** per completion position, the k most likely tokens under softmax(logits / T) (T = 1 when greedy) */
  private topAlternatives(
    prompt: number[],
    completion: number[],
    temperature: number,
    k: number,
    adapters: boolean,
  ): { id: number; logprob: number }[][] {
    const seq = [...prompt, ...completion.slice(0, -1)];
    const logits = this.model.logits([seq], { adapters })[0];
    const V = this.vocabSize;
    const scale = temperature > 0 ? 1 / temperature : 1;
    return completion.map((_, i) => {
      const row = logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
      const lse = logSumExp(row, scale);
      return topIndices(row, Math.min(k, V)).map((id) => ({ id, logprob: row[id] * scale - lse }));
    });
  }
}

export interface LiveOptions {
  /** stops the generation at the next step (a client that went away) */
  signal?: AbortSignal;
  /** after every step: each unfinished choice so far, and how many of its pieces are final */
  onStep?: (running: { choice: ServedChoice; final: number }[]) => void;
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
