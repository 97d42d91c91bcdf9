/**
 * Continuous (iteration-level) batching on the embedded model, as Orca and vLLM schedule: requests join the
 * running batch at any decoding step and each sequence leaves it the step it finishes, so a request never waits
 * for another's generation to end, and requests with different sampling settings share the batch (sampling is
 * per sequence, on the host).
 *
 * Every sequence owns one KV-cache slot and its own position. Requests that join at the same step are prefilled
 * together in a cache of their own (prompts right-padded to a common length, once per prompt) and copied into
 * free slots, one per sample. The cache grows when joiners need more slots (doubling) or positions, and is
 * freed when nothing is left to decode.
 */
import { KvCache } from '../model/kv-cache.ts';
import { DecodeGraph, copySlots } from '../model/decode-graph.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { WeightCopies } from '../model/weight-copies.ts';
import { checkPrecision, type PrecisionSetting } from '../model/weight-copies.ts';
import { sampleToken, validateSampling, type SamplingParams } from './sampling.ts';
import { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export interface Completion {
  promptIndex: number;
  sampleIndex: number;
  tokens: number[];
  /** per token: log softmax(logits / T) (T = 1 when greedy) — the policy the trainer recomputes */
  logprobs: number[];
  /** per token: log-probability under the truncated (top-k / top-p / min-p) distribution actually sampled */
  samplingLogprobs: number[];
  finishReason: 'stop' | 'length';
  /** decoded completion (cut before the stop string) when `decode` is given */
  text?: string;
}

/** One request: its prompts, n samples of each, and how they are sampled and stopped. */
export interface SequenceRequest extends SamplingParams {
  /** samples per prompt (default 1) */
  n?: number;
  maxTokens: number;
  /** seed of the request's sampling RNG (default 0): a request samples the same tokens whatever it is batched with */
  seed?: number;
  /** end-of-sequence ids (default: the model config's) — the id is kept as the last completion token */
  eosTokenIds?: number[];
  /** stop strings: a sequence ends once its decoded completion contains one (needs `decode`) */
  stop?: string[];
  /** token ids (of prompt `promptIndex`'s completion) → text, for stop strings */
  decode?: (ids: number[], promptIndex: number) => string;
  /** the promptIndex of this request's first prompt (default 0): several requests can number one list */
  firstPromptIndex?: number;
}

export interface DecoderOptions {
  /**
   * matmul precision (default: the model's). 'bf16' multiplies with BF16 copies of the weights (about 1.8× faster
   * matmuls on CPUs with AVX-512 BF16); the log-probs are then those of the BF16 model, close to the f32 policy's
   */
  precision?: PrecisionSetting;
  /** with LoRA: false samples from the base alone (default true) */
  adapters?: boolean;
  /** attention span bucket, in positions (default 64) */
  spanBucket?: number;
  /** sequences decoding at once at most (default: unbounded); `fits` says whether a request can join now */
  maxSequences?: number;
}

interface Sequence {
  request: DecodeRequest;
  completion: Completion;
  /** prompt tokens in the cache before the completion */
  promptLength: number;
  slot: number;
}

/** A request's sequences as they decode: `completions` grow by one token per step until `finished`. */
export class DecodeRequest {
  readonly completions: Completion[];
  /** sequences still decoding */
  running = 0;
  cancelled = false;
  readonly eos: Set<number>;
  readonly rng: Rng;

  constructor(readonly prompts: number[][], readonly options: SequenceRequest, eos: number[]) {
    const n = options.n ?? 1;
    this.eos = new Set(options.eosTokenIds ?? eos);
    this.rng = new Rng(options.seed ?? 0);
    const first = options.firstPromptIndex ?? 0;
    this.completions = prompts.flatMap((_, p) => Array.from({ length: n }, (_, sampleIndex) => ({
      promptIndex: first + p, sampleIndex, tokens: [], logprobs: [], samplingLogprobs: [], finishReason: 'length' as const,
    })));
  }

  get finished(): boolean {
    return this.running === 0;
  }

  /** Sample the next token from `row`; true when this ends the sequence (end of sequence, stop string, or length). */
  accept(c: Completion, row: Float32Array): boolean {
    const o = this.options;
    const t = sampleToken(row, o, this.rng);
    c.tokens.push(t.token);
    c.logprobs.push(t.logprob);
    c.samplingLogprobs.push(t.samplingLogprob);
    if (this.eos.has(t.token) || (o.stop?.length && stops(o.decode!(c.tokens, c.promptIndex), o.stop))) {
      c.finishReason = 'stop';
      return true;
    }
    return c.tokens.length >= o.maxTokens;
  }

  /** Once every sequence has ended: each completion's text, cut before its stop string. */
  finish(): void {
    const { decode, stop } = this.options;
    if (!decode) return;
    for (const c of this.completions) {
      let text = decode(c.tokens.filter((t) => !this.eos.has(t)), c.promptIndex);
      for (const x of stop ?? []) { const at = text.indexOf(x); if (at >= 0) text = text.slice(0, at); }
      c.text = text;
    }
  }
}

const stops = (text: string, stop: string[]) => stop.some((x) => text.includes(x));

export class SequenceDecoder {
  private cache: KvCache | null = null;
  private graph: DecodeGraph | null = null;
  /** the sequence in each cache slot (null: free) */
  private slots: (Sequence | null)[] = [];
  private pending: DecodeRequest[] = [];
  private readonly copies: WeightCopies;
  private readonly adapters: boolean;
  private readonly bucket: number;
  private readonly maxSequences: number;

  constructor(readonly model: LlamaModel, opts: DecoderOptions = {}) {
    if (opts.precision !== undefined) checkPrecision(opts.precision);
    this.copies = model.weightCopies(opts.precision ?? model.precision);
    this.adapters = opts.adapters !== false;
    this.bucket = opts.spanBucket ?? 64;
    this.maxSequences = opts.maxSequences ?? Infinity;
  }

  /** sequences decoding or waiting to join */
  get sequences(): number {
    return this.slots.filter((s) => s !== null).length + this.pending.reduce((a, r) => a + r.completions.length, 0);
  }

  get idle(): boolean {
    return this.sequences === 0;
  }

  /** whether `sequences` more fit under maxSequences now */
  fits(sequences: number): boolean {
    return this.sequences + sequences <= this.maxSequences;
  }

  /** Queue a request; it joins the batch (prefill and first token) at the next step(). */
  add(prompts: number[][], options: SequenceRequest): DecodeRequest {
    validateSampling(options);
    const n = options.n ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new GrpoError('config', `n must be a positive integer, got ${n}`);
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) throw new GrpoError('config', `maxTokens must be a positive integer, got ${options.maxTokens}`);
    if (prompts.length === 0) throw new GrpoError('config', 'generate needs at least one prompt');
    prompts.forEach((p, i) => { if (p.length === 0) throw new GrpoError('config', `prompt ${i} is empty: start it with the BOS token or any text`); });
    if (options.stop?.length && !options.decode) throw new GrpoError('config', 'stop strings need a decode function (pass the tokenizer\'s decode)');
    const P = Math.max(...prompts.map((p) => p.length));
    const context = P + options.maxTokens;
    // positions past the trained context decode garbage without a sign of it: refuse, as vLLM does
    if (context > this.model.config.maxSeqLen) {
      throw new GrpoError('config', `a prompt of ${P} tokens and up to ${options.maxTokens} new ones need ${context} positions, more than this model's context of ${this.model.config.maxSeqLen}: shorten the prompt or lower the max tokens`);
    }
    const V = this.model.config.vocabSize;
    for (const p of prompts) for (const t of p) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new GrpoError('shape', `token ${t} is outside the vocabulary [0, ${V})`);
    const request = new DecodeRequest(prompts, options, this.model.config.eosTokenIds ?? []);
    if (!this.fits(request.completions.length)) throw new GrpoError('config', `${request.completions.length} more sequences do not fit: at most ${this.maxSequences} decode at once`);
    request.running = request.completions.length;
    this.pending.push(request);
    return request;
  }

  /** End a request's sequences now and free their slots. */
  cancel(request: DecodeRequest): void {
    request.cancelled = true;
    request.running = 0;
    this.pending = this.pending.filter((r) => r !== request);
    this.slots = this.slots.map((s) => (s?.request === request ? null : s));
  }

  /**
   * One iteration: every running sequence decodes one token, then the requests added since the last step join
   * (prefill and first token). Requests that finish here get their texts.
   */
  step(): void {
    const running = this.slots.filter((s): s is Sequence => s !== null);
    if (running.length > 0) this.decode(running);
    if (this.pending.length > 0) this.admit(this.pending.splice(0));
    for (const r of new Set(running.map((s) => s.request))) if (r.finished && !r.cancelled) r.finish();
    if (this.idle) this.release();
  }

  free(): void {
    this.pending = [];
    this.slots = [];
    this.release();
  }

  private release(): void {
    this.graph?.free();
    this.graph = null;
    this.cache?.free();
    this.cache = null;
  }

  private end(s: Sequence): void {
    this.slots[s.slot] = null;
    s.request.running--;
  }

  private decode(running: Sequence[]): void {
    const cache = this.cache!;
    const V = this.model.config.vocabSize;
    const fed = (s: Sequence) => s.promptLength + s.completion.tokens.length - 1; // cache index of the token fed
    const hi = Math.max(...running.map((s) => s.slot)) + 1;
    const span = Math.min(cache.context, Math.ceil((Math.max(...running.map(fed)) + 1) / this.bucket) * this.bucket);
    // a graph over the first `hi` slots serves until the span grows or the batch shrinks well below it
    const g = this.graph;
    if (!g || g.shape.span !== span || g.shape.slots < hi || hi < 0.75 * g.shape.slots) {
      g?.free();
      this.graph = null;
      this.graph = new DecodeGraph(this.model.backend, this.model.weights, cache, { nNew: 1, span, slots: hi, slotStride: 1 }, this.copies, this.adapters ? this.model.lora : null);
    }
    const graph = this.graph!;
    const S = graph.shape.slots;
    // free slots inside the graph decode a dummy token at position 0; their outputs are ignored
    const tokens = new Int32Array(S), start = new Int32Array(S);
    for (const s of running) {
      tokens[s.slot] = s.completion.tokens[s.completion.tokens.length - 1];
      start[s.slot] = fed(s);
    }
    graph.write(tokens, new Int32Array(S), start);
    const logits = this.withThreads(S, () => graph.compute());
    for (const s of running) if (s.request.accept(s.completion, logits.subarray(s.slot * V, (s.slot + 1) * V))) this.end(s);
  }

  private admit(requests: DecodeRequest[]): void {
    const prompts = requests.flatMap((r) => r.prompts);
    const P = Math.max(...prompts.map((p) => p.length));
    const joining = requests.reduce((a, r) => a + r.completions.length, 0);
    this.reserve(joining, Math.max(...requests.map((r) => Math.max(...r.prompts.map((p) => p.length)) + r.options.maxTokens)));
    const backend = this.model.backend, V = this.model.config.vocabSize;
    const scratch = new KvCache(this.model.config, backend, prompts.length, P);
    let prefill: DecodeGraph | null = null;
    try {
      prefill = new DecodeGraph(backend, this.model.weights, scratch, { nNew: P, span: P, slots: prompts.length, slotStride: 1 }, this.copies, this.adapters ? this.model.lora : null);
      // right padding (repeating the last token) keeps every sequence's positions from 0; the padding's cache
      // entries are overwritten by its decoded tokens before any query can see them
      prefill.write(Int32Array.from(prompts.flatMap((p) => [...p, ...new Array<number>(P - p.length).fill(p[p.length - 1])])), new Int32Array(prompts.length), 0, prompts.map((p) => p.length));
      const pre = prefill;
      const first = this.withThreads(P * prompts.length, () => pre.compute());
      const joined: { s: Sequence; row: number }[] = [];
      const copies: [number, number[]][] = [];
      let row = 0;
      for (const r of requests) {
        const n = r.options.n ?? 1;
        r.prompts.forEach((p, i) => { // completions are prompt-major: prompt i's samples are i·n … i·n + n − 1
          const targets: number[] = [];
          for (let k = 0; k < n; k++) {
            const s: Sequence = { request: r, completion: r.completions[i * n + k], promptLength: p.length, slot: this.freeSlot() };
            this.slots[s.slot] = s;
            targets.push(s.slot);
            joined.push({ s, row });
          }
          copies.push([row++, targets]);
        });
      }
      copySlots(backend, scratch, this.cache!, copies, P);
      for (const { s, row: at } of joined) if (s.request.accept(s.completion, first.subarray(at * V, (at + 1) * V))) this.end(s);
      for (const r of requests) if (r.finished) r.finish();
    } finally {
      prefill?.free();
      scratch.free();
    }
  }

  private freeSlot(): number {
    const at = this.slots.indexOf(null);
    if (at >= 0 && at < this.cache!.slots) return at;
    if (this.slots.length < this.cache!.slots) return this.slots.push(null) - 1;
    throw new GrpoError('engine', 'no free KV-cache slot (reserve() sized the cache too small)');
  }

  /** Make room for `joining` more sequences of up to `context` positions, growing the cache (its sequences copied over) if needed. */
  private reserve(joining: number, context: number): void {
    const active = this.slots.filter((s): s is Sequence => s !== null);
    const old = this.cache;
    if (old && old.slots - active.length >= joining && old.context >= context) return;
    const needed = active.length + joining;
    const slots = old ? Math.max(needed, Math.min(2 * old.slots, this.maxSequences)) : needed;
    const next = new KvCache(this.model.config, this.model.backend, slots, Math.max(context, old?.context ?? 0));
    // sequences keep their slot numbers (the cache never shrinks while they run)
    try {
      if (old && active.length > 0) {
        copySlots(this.model.backend, old, next, active.map((s) => [s.slot, [s.slot]]), Math.max(...active.map((s) => s.promptLength + s.completion.tokens.length)));
      }
    } catch (e) {
      next.free();
      throw e;
    }
    this.release();
    this.cache = next;
  }

  /**
   * Small computes run faster on one thread: below ~32 MFLOP of weight matmuls, ggml's per-op thread barriers
   * cost more than the split saves (measured on 2 cores: stories260K at batch 16 decodes 12.7k tokens/s on one
   * thread, 3.3k on two; a 50M model at batch 1 gains from two).
   */
  private withThreads<T>(rows: number, compute: () => T): T {
    const backend = this.model.backend, threads = backend.threadCount;
    if (2 * this.model.weights.parameterCount * rows < 32e6) backend.setThreads(1);
    try {
      return compute();
    } finally {
      backend.setThreads(threads);
    }
  }
}
