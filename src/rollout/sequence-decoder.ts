/**
 * Continuous (iteration-level) batching on the embedded model, as Orca and vLLM schedule: requests join the
 * running batch at any decoding step and each sequence leaves it the step it finishes, so a request never waits
 * for another's generation to end, and requests with different sampling settings share the batch (sampling is
 * per sequence, on the host).
 *
 * Every sequence owns one KV-cache slot and its own position. Requests that join at the same step are prefilled
 * together in a cache of their own (prefill.ts: prompts right-padded to a common length, once per prompt) and
 * copied into free slots, one per sample. The cache grows when joiners need more slots (doubling) or positions, and is
 * freed when nothing is left to decode.
 *
 * Spans and cache contexts are whole blocks of 64 positions, one of the rules that make each request decode in f32,
 * bit for bit, what it would alone (../model/batch-invariance.ts).
 *
 * Multi-turn requests (agent loops, tools): a sequence that stops pauses instead of ending, keeping its slot and
 * cache; `resume()` appends the environment's tokens (prefilled at the sequence's own position, in a scratch cache
 * holding a copy of its slot) and it samples on, so a conversation is never re-encoded from the start.
 */
import { KvCache } from '../model/kv-cache.ts';
import { type DecodeGraph, copySlots } from '../model/decode-graph.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { checkPrecision, type PrecisionSetting } from '../model/weight-copies.ts';
import { SPAN_BLOCK, spanBlocks } from '../model/batch-invariance.ts';
import { DecodeRequest, checkSequenceRequest, checkTokens, type SequenceRequest } from './decode-request.ts';
import { prefill, probabilityGraph, withThreads, type DecodeWeights } from './prefill.ts';
import { GrpoError } from '../errors.ts';
import type { Completion } from './completion.ts';

export interface DecoderOptions {
  /**
   * matmul precision (default: the model's). 'bf16' multiplies with BF16 copies of the weights (about 1.8× faster
   * matmuls on CPUs with AVX-512 BF16); the log-probs are then those of the BF16 model, close to the f32 policy's
   */
  precision?: PrecisionSetting;
  /** with LoRA: false samples from the base alone (default true) */
  adapters?: boolean;
  /** attention span bucket, in positions (default 64; rounded up to a multiple of 64, which batch invariance needs) */
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
  /** multi-turn: decoding, waiting for the environment, or with appended tokens to prefill */
  state: 'running' | 'paused' | 'appending';
  /** index in completion.tokens where the current turn's sampled tokens begin */
  turnStart: number;
}

export class SequenceDecoder {
  private cache: KvCache | null = null;
  private graph: DecodeGraph | null = null;
  /** the sequence in each cache slot (null: free) */
  private slots: (Sequence | null)[] = [];
  private pending: DecodeRequest[] = [];
  /** multi-turn sequences paused since the last `takePaused()` */
  private newlyPaused: Completion[] = [];
  private readonly weights: DecodeWeights;
  private readonly bucket: number;
  private readonly maxSequences: number;

  constructor(
    readonly model: LlamaModel,
    opts: DecoderOptions = {},
  ) {
    if (opts.precision !== undefined) checkPrecision(opts.precision);
    this.weights = {
      model,
      copies: model.weightCopies(opts.precision ?? model.precision),
      adapters: opts.adapters !== false,
    };
    this.bucket = spanBlocks(opts.spanBucket ?? SPAN_BLOCK);
    this.maxSequences = opts.maxSequences ?? Infinity;
  }

  /** sequences decoding or waiting to join */
  get sequences(): number {
    return this.slots.filter((s) => s !== null).length + this.pending.reduce((a, r) => a + r.completions.length, 0);
  }

  get idle(): boolean {
    return this.sequences === 0;
  }

  /** whether step() has work: a sequence decoding or prefilling, or a request waiting to join (not only paused ones) */
  get canStep(): boolean {
    return this.pending.length > 0 || this.slots.some((s) => s !== null && s.state !== 'paused');
  }

  /** whether `sequences` more fit under maxSequences now */
  fits(sequences: number): boolean {
    return this.sequences + sequences <= this.maxSequences;
  }

  /** Queue a request; it joins the batch (prefill and first token) at the next step(). */
  add(prompts: number[][], options: SequenceRequest): DecodeRequest {
    checkSequenceRequest(prompts, options, this.model.config);
    const request = new DecodeRequest(prompts, options, this.model.config.eosTokenIds ?? []);
    if (!this.fits(request.completions.length))
      throw new GrpoError(
        'config',
        `${request.completions.length} more sequences do not fit: at most ${this.maxSequences} decode at once`,
      );
    request.running = request.completions.length;
    this.pending.push(request);
    return request;
  }

  /** Multi-turn sequences that paused (stopped a turn) since the last call: each waits for resume() or stop(). */
  takePaused(): Completion[] {
    return this.newlyPaused.splice(0);
  }

  /**
   * Append `tokens` (the environment's answer) to a paused multi-turn sequence; at the next step() they are
   * prefilled at its position and it samples its next turn. They must leave room for one more sampled token.
   */
  resume(c: Completion, tokens: number[]): void {
    const s = this.pausedSequence(c, 'resume');
    if (tokens.length === 0) throw new GrpoError('config', 'resume needs at least one token to append');
    checkTokens(tokens, this.model.config.vocabSize);
    const room = s.request.options.maxTokens - c.tokens.length - 1;
    if (tokens.length > room)
      throw new GrpoError(
        'config',
        `${tokens.length} appended tokens leave no room in the episode's budget of ${s.request.options.maxTokens} tokens (${room} appendable): truncate them or stop() the sequence`,
      );
    for (const t of tokens) {
      c.tokens.push(t);
      c.logprobs.push(0);
      c.samplingLogprobs.push(0);
      c.sampledMask!.push(0);
    }
    c.finishReason = 'length';
    s.state = 'appending';
    s.turnStart = c.tokens.length;
  }

  /** End a paused multi-turn sequence (the episode is over) and free its slot. */
  stop(c: Completion): void {
    const s = this.pausedSequence(c, 'stop');
    this.end(s);
    if (s.request.finished && !s.request.cancelled) s.request.finish();
    if (this.idle) this.release();
  }

  private pausedSequence(c: Completion, what: string): Sequence {
    const s = this.slots.find((x) => x?.completion === c);
    if (s?.state !== 'paused')
      throw new GrpoError('config', `${what}(): the completion is not a paused multi-turn sequence of this decoder`);
    return s;
  }

  /** End a request's sequences now and free their slots. */
  cancel(request: DecodeRequest): void {
    request.cancelled = true;
    request.running = 0;
    this.pending = this.pending.filter((r) => r !== request);
    this.slots = this.slots.map((s) => (s?.request === request ? null : s));
    this.newlyPaused = this.newlyPaused.filter((c) => !request.completions.includes(c));
  }

  /**
   * One iteration: every running sequence decodes one token, then the requests added since the last step join
   * (prefill and first token). Requests that finish here get their texts.
   */
  step(): void {
    const occupied = this.slots.filter((s): s is Sequence => s !== null);
    const appending = occupied.filter((s) => s.state === 'appending');
    if (occupied.some((s) => s.state === 'running')) this.decode(occupied);
    if (this.pending.length > 0) this.admit(this.pending.splice(0));
    if (appending.length > 0) this.prefillAppended(appending);
    for (const r of new Set(occupied.map((s) => s.request))) if (r.finished && !r.cancelled) r.finish();
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

  /** After a sampled token: a finished turn pauses a multi-turn sequence (its owner resumes or stops it), else ends it. */
  private settle(s: Sequence, done: boolean): void {
    if (!done) return;
    if (s.request.options.multiTurn) {
      s.state = 'paused';
      this.newlyPaused.push(s.completion);
    } else this.end(s);
  }

  /** Decode one token for every running sequence; `occupied` also holds paused ones, fed a harmless dummy. */
  private decode(occupied: Sequence[]): void {
    const cache = this.cache!;
    const V = this.model.config.vocabSize;
    const fed = (s: Sequence) => s.promptLength + s.completion.tokens.length - 1; // cache index of the token fed
    const hi = Math.max(...occupied.map((s) => s.slot)) + 1;
    const span = Math.min(cache.context, Math.ceil((Math.max(...occupied.map(fed)) + 1) / this.bucket) * this.bucket);
    // a graph over the first `hi` slots serves until the span grows or the batch shrinks well below it
    const g = this.graph;
    if (!g || g.shape.span !== span || g.shape.slots < hi || hi < 0.75 * g.shape.slots) {
      g?.free();
      this.graph = null;
      this.graph = probabilityGraph(this.weights, cache, { nNew: 1, span, slots: hi, slotStride: 1 });
    }
    const graph = this.graph!;
    const S = graph.shape.slots;
    // free slots inside the graph decode a dummy token at position 0, and paused or appending sequences their last
    // token at its own index, which is written again when they resume; their outputs are ignored
    const tokens = new Int32Array(S),
      start = new Int32Array(S),
      inverseT = new Float32Array(S).fill(1);
    for (const s of occupied) {
      tokens[s.slot] = s.completion.tokens[s.completion.tokens.length - 1];
      start[s.slot] = fed(s);
      inverseT[s.slot] = s.request.inverseTemperature;
    }
    graph.write(tokens, new Int32Array(S), start, undefined, inverseT);
    const logits = withThreads(this.model, S, () => graph.compute());
    for (const s of occupied) {
      if (s.state === 'running')
        this.settle(s, s.request.accept(s.completion, logits.subarray(s.slot * V, (s.slot + 1) * V), s.turnStart));
    }
  }

  /**
   * Prefill what resume() appended, then sample each sequence's next turn. The last sampled token was never fed,
   * so each feeds it and the appended tokens from its own cache index, in a scratch cache holding copies of the
   * sequences' slots, which are then copied back.
   */
  private prefillAppended(seqs: Sequence[]): void {
    const backend = this.model.backend,
      V = this.model.config.vocabSize,
      cache = this.cache!;
    const runs = seqs.map((s) => s.completion.tokens.slice(s.completion.sampledMask!.lastIndexOf(1)));
    const starts = seqs.map((s, i) => s.promptLength + s.completion.tokens.length - runs[i].length);
    prefill(
      this.weights,
      { runs, start: starts, inverseTemperatures: seqs.map((s) => s.request.inverseTemperature) },
      {
        seed: (scratch) =>
          copySlots(
            backend,
            cache,
            scratch,
            seqs.map((s, i) => [s.slot, [i]]),
            Math.max(...starts),
          ),
        use: (scratch, probabilities) => {
          // positions past a sequence's end receive padding, overwritten by its next tokens before any query sees them
          copySlots(
            backend,
            scratch,
            cache,
            seqs.map((s, i) => [i, [s.slot]]),
            Math.min(scratch.context, cache.context),
          );
          seqs.forEach((s, i) => {
            s.state = 'running';
            this.settle(s, s.request.accept(s.completion, probabilities.subarray(i * V, (i + 1) * V), s.turnStart));
          });
        },
      },
    );
  }

  /** The requests added since the last step join: their prompts are prefilled, once per prompt, and each sequence samples its first token. */
  private admit(requests: DecodeRequest[]): void {
    const prompts = requests.flatMap((r) => r.prompts);
    const P = Math.max(...prompts.map((p) => p.length));
    this.reserve(
      requests.reduce((a, r) => a + r.completions.length, 0),
      Math.max(...requests.map((r) => Math.max(...r.prompts.map((p) => p.length)) + r.options.maxTokens)),
    );
    const V = this.model.config.vocabSize;
    prefill(
      this.weights,
      {
        runs: prompts,
        start: 0,
        inverseTemperatures: requests.flatMap((r) => r.prompts.map(() => r.inverseTemperature)),
      },
      {
        use: (scratch, first) => {
          const { joined, copies } = this.seat(requests);
          copySlots(this.model.backend, scratch, this.cache!, copies, P);
          for (const { s, row } of joined)
            this.settle(s, s.request.accept(s.completion, first.subarray(row * V, (row + 1) * V)));
          for (const r of requests) if (r.finished) r.finish();
        },
      },
    );
  }

  /**
   * A free slot for each sequence of the joining requests; `joined` pairs each with its prompt's prefill row, and
   * `copies` maps each row to its sequences' slots.
   */
  private seat(requests: DecodeRequest[]): { joined: { s: Sequence; row: number }[]; copies: [number, number[]][] } {
    const joined: { s: Sequence; row: number }[] = [];
    const copies: [number, number[]][] = [];
    let row = 0;
    for (const r of requests) {
      const n = r.options.n ?? 1;
      r.prompts.forEach((p, i) => {
        // completions are prompt-major: prompt i's samples are i·n … i·n + n − 1
        const targets: number[] = [];
        for (let k = 0; k < n; k++) {
          const s: Sequence = {
            request: r,
            completion: r.completions[i * n + k],
            promptLength: p.length,
            slot: this.freeSlot(),
            state: 'running',
            turnStart: 0,
          };
          this.slots[s.slot] = s;
          targets.push(s.slot);
          joined.push({ s, row });
        }
        copies.push([row++, targets]);
      });
    }
    return { joined, copies };
  }

  private freeSlot(): number {
    const at = this.slots.indexOf(null);
    if (at >= 0 && at < this.cache!.slots) return at;
    if (this.slots.length < this.cache!.slots) return this.slots.push(null) - 1;
    throw new GrpoError('generation', 'no free KV-cache slot (reserve() sized the cache too small)');
  }

  /** Make room for `joining` more sequences of up to `context` positions, growing the cache (its sequences copied over) if needed. */
  private reserve(joining: number, context: number): void {
    const active = this.slots.filter((s): s is Sequence => s !== null);
    const old = this.cache;
    if (old && old.slots - active.length >= joining && old.context >= context) return;
    const needed = active.length + joining;
    const slots = old ? Math.max(needed, Math.min(2 * old.slots, this.maxSequences)) : needed;
    const next = new KvCache(
      this.model.config,
      this.model.backend,
      slots,
      spanBlocks(Math.max(context, old?.context ?? 0)),
    );
    // sequences keep their slot numbers (the cache never shrinks while they run)
    try {
      if (old && active.length > 0) {
        copySlots(
          this.model.backend,
          old,
          next,
          active.map((s) => [s.slot, [s.slot]]),
          Math.max(...active.map((s) => s.promptLength + s.completion.tokens.length)),
        );
      }
    } catch (e) {
      next.free();
      throw e;
    }
    this.release();
    this.cache = next;
  }
}
