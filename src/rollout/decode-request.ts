/**
 * One request to the decoder and its sequences as they decode: n samples of each prompt, each sampled with the
 * request's own settings and RNG (so a request samples the same tokens whatever it is batched with, in f32: see
 * ../model/batch-invariance.ts for bf16) and stopped by its end-of-sequence ids, stop strings or length. The decoder
 * (sequence-decoder.ts) owns slots and the cache.
 */
import { sampleFromProbabilities, validateSampling, type SamplingParams } from './sampling.ts';
import { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';
import type { LlamaConfig } from '../model/config.ts';
import type { Completion } from './completion.ts';

/** One request: its prompts, n samples of each, and how they are sampled and stopped. */
export interface SequenceRequest extends SamplingParams {
  /** samples per prompt (default 1) */
  n?: number;
  maxTokens: number;
  /**
   * seed of the request's sampling RNG (default 0): a request samples the same tokens whatever it is batched with
   * (in f32; ../model/batch-invariance.ts)
   */
  seed?: number;
  /** end-of-sequence ids (default: the model config's) — the id is kept as the last completion token */
  eosTokenIds?: number[];
  /** stop strings: a sequence ends once its decoded completion contains one (needs `decode`) */
  stop?: string[];
  /** token ids (of prompt `promptIndex`'s completion) → text, for stop strings */
  decode?: (ids: number[], promptIndex: number) => string;
  /** the promptIndex of this request's first prompt (default 0): several requests can number one list */
  firstPromptIndex?: number;
  /**
   * a sequence whose turn ends (end-of-sequence id, stop string, or the budget spent: finishReason 'length') pauses,
   * keeping its cache, until `resume()` appends tokens or `stop()` ends it; stop strings match the current turn's
   * text, and `maxTokens` bounds the whole episode (sampled and appended tokens, as verl's response_length)
   */
  multiTurn?: boolean;
}

/** Throws the first thing that keeps a request from decoding on a model of `config`: its settings, or its prompts. */
export function checkSequenceRequest(prompts: number[][], options: SequenceRequest, config: LlamaConfig): void {
  validateSampling(options);
  const n = options.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new GrpoError('config', `n must be a positive integer, got ${n}`);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1)
    throw new GrpoError('config', `maxTokens must be a positive integer, got ${options.maxTokens}`);
  if (prompts.length === 0) throw new GrpoError('config', 'generate needs at least one prompt');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new GrpoError('config', `prompt ${i} is empty: start it with the BOS token or any text`);
  });
  if (options.stop?.length && !options.decode)
    throw new GrpoError('config', "stop strings need a decode function (pass the tokenizer's decode)");
  const P = Math.max(...prompts.map((p) => p.length));
  const context = P + options.maxTokens;
  // positions past the trained context decode garbage without a sign of it: refuse, as vLLM does
  if (context > config.maxSeqLen) {
    throw new GrpoError(
      'config',
      `a prompt of ${P} tokens and up to ${options.maxTokens} new ones need ${context} positions, more than this model's context of ${config.maxSeqLen}: shorten the prompt or lower the max tokens`,
    );
  }
  for (const p of prompts) checkTokens(p, config.vocabSize);
}

/** Token ids must be whole numbers in [0, vocabSize). */
export function checkTokens(tokens: readonly number[], vocabSize: number): void {
  for (const t of tokens)
    if (!(Number.isInteger(t) && t >= 0 && t < vocabSize))
      throw new GrpoError('shape', `token ${t} is outside the vocabulary [0, ${vocabSize})`);
}

/** A request's sequences as they decode: `completions` grow by one token per step until `finished`. */
export class DecodeRequest {
  readonly completions: Completion[];
  /** sequences still decoding */
  running = 0;
  cancelled = false;
  readonly eos: Set<number>;
  readonly rng: Rng;

  constructor(
    readonly prompts: number[][],
    readonly options: SequenceRequest,
    eos: number[],
  ) {
    const n = options.n ?? 1;
    this.eos = new Set(options.eosTokenIds ?? eos);
    this.rng = new Rng(options.seed ?? 0);
    const first = options.firstPromptIndex ?? 0;
    this.completions = prompts.flatMap((_, p) =>
      Array.from(
        { length: n },
        (_, sampleIndex): Completion => ({
          promptIndex: first + p,
          sampleIndex,
          tokens: [],
          logprobs: [],
          samplingLogprobs: [],
          finishReason: 'length' as const,
          ...(options.multiTurn ? { sampledMask: [] } : {}),
        }),
      ),
    );
  }

  get finished(): boolean {
    return this.running === 0;
  }

  /** 1 / temperature of this request's sampling distribution (greedy: 1, the distribution its log-probs are of) */
  get inverseTemperature(): number {
    return this.options.temperature > 0 ? 1 / this.options.temperature : 1;
  }

  /**
   * Sample the next token from `row`, softmax(logits / T) (the decode graph's probabilities); true when this ends the
   * sequence or its turn (end of sequence, a stop string in the text since `turnStart`, or length).
   */
  accept(c: Completion, row: Float32Array, turnStart = 0): boolean {
    const o = this.options;
    const t = sampleFromProbabilities(row, o, this.rng);
    c.tokens.push(t.token);
    c.logprobs.push(t.logprob);
    c.samplingLogprobs.push(t.samplingLogprob);
    c.sampledMask?.push(1);
    if (
      this.eos.has(t.token) ||
      (o.stop?.length && stops(o.decode!(c.tokens.slice(turnStart), c.promptIndex), o.stop))
    ) {
      c.finishReason = 'stop';
      return true;
    }
    return c.tokens.length >= o.maxTokens;
  }

  /** Once every sequence has ended: each completion's text. */
  finish(): void {
    if (this.options.decode) for (const c of this.completions) this.setText(c);
  }

  /** A completion's text (needs `decode`): without end-of-sequence ids, cut before its stop string (multi-turn: never cut). */
  setText(c: Completion): void {
    const { decode, stop, multiTurn } = this.options;
    let text = decode!(
      c.tokens.filter((t) => !this.eos.has(t)),
      c.promptIndex,
    );
    for (const x of multiTurn ? [] : (stop ?? [])) {
      const at = text.indexOf(x);
      if (at >= 0) text = text.slice(0, at);
    }
    c.text = text;
  }
}

const stops = (text: string, stop: string[]) => stop.some((x) => text.includes(x));
