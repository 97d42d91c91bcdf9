/**
 * Forward graph that appends `nNew` tokens to each of `slots` KV-cache slots (every `slotStride`-th slot of the
 * cache) and returns next-token logits at each slot's last new position. `nNew` = prompt length is a prefill,
 * `nNew` = 1 a decoding step. Attention spans the first `span` cache positions; positions past a slot's end and
 * its left padding are masked. The cache write position is an input (ggml_set_rows with computed indices), so
 * one graph serves every step whose window fits in `span` (spans are bucketed by the caller).
 * Attention is the masked-softmax form: ggml's CPU flash attention computes one scalar exp per score, which
 * measured 2× slower than the vectorised softmax for the small heads this engine targets.
 * On the CPU, a decoding step's products and every LM head are `decoding` products, so that in f32 a slot's logits
 * do not depend on the other slots (batch-invariance.ts; prefill lengths and spans are the caller's part).
 */
import { ComputeGraph } from '../engine/graph.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights } from './llama-weights.ts';
import type { KvCache } from './kv-cache.ts';
import type { WeightCopies } from './weight-copies.ts';
import type { LoraAdapters } from './lora.ts';
import { Tape } from './tape.ts';
import { nextTokenLogits, trunk } from './trunk.ts';
import { Projection } from './pieces/projection.ts';
import { GrpoError } from '../errors.ts';

export interface DecodeShape {
  nNew: number;
  span: number;
  /** how many slots this graph advances */
  slots: number;
  /** they are cache slots 0, slotStride, 2·slotStride, … */
  slotStride: number;
}

/**
 * What a decode graph returns per slot: next-token logits, or the sampling distribution softmax(logits / T) for a
 * per-slot temperature (ggml's vectorised softmax over the vocabulary, instead of one host exp per token).
 */
export type DecodeOutput = 'logits' | 'probabilities';

export class DecodeGraph {
  readonly graph: ComputeGraph;
  readonly logits: Tensor;
  /** 'probabilities': what compute() returns; the inverse temperature of each slot is an input */
  private readonly probabilities: Tensor | null = null;
  private readonly inverseTemperature: Tensor | null = null;
  private readonly tokens: Tensor;
  private readonly positions: Tensor;
  private readonly mask: Tensor;
  private readonly kRows: Tensor;
  private readonly vCells: Tensor;
  private readonly lastRows: Tensor | null;
  /** the allocator may reuse input memory during a compute, so every compute needs fresh inputs */
  private inputsFresh = false;

  /**
   * `copies`: the weights the products read (f32, or BF16 copies), already in sync with the model's weights;
   * `lora`: adapters to apply (null: the base alone)
   */
  constructor(
    backend: Backend,
    readonly weights: LlamaWeights,
    readonly cache: KvCache,
    readonly shape: DecodeShape,
    copies: WeightCopies,
    lora: LoraAdapters | null = null,
    output: DecodeOutput = 'logits',
  ) {
    const c = weights.config;
    const { nNew, span, slots: S, slotStride } = shape;
    if (nNew < 1 || span > cache.context || (S - 1) * slotStride >= cache.slots || S < 1) {
      throw new GrpoError(
        'shape',
        `decode graph of ${S} slots (stride ${slotStride}) × ${nNew} tokens over span ${span} does not fit a cache of ${cache.slots} slots × ${cache.context}`,
      );
    }
    const g = (this.graph = new ComputeGraph(backend, {
      maxNodes: 96 * c.nLayers + 64,
      externalTensors: 3 * weights.parameters.length + 2 * c.nLayers + (lora?.byName.size ?? 0),
    }));
    const o = g.ops;
    const tape = new Tape(g); // forward only
    const N = nNew * S;
    this.tokens = g.input('i32', [N], 'tokens'); // token n = s·nNew + i
    this.positions = g.input('i32', [N], 'positions');
    this.mask = g.input('f32', [span, nNew, 1, S], 'mask');
    this.kRows = g.input('i32', [N], 'k_rows');
    this.vCells = g.input('i32', [c.headDim * c.nKvHeads * N], 'v_cells');
    this.lastRows = nNew === 1 ? null : g.input('i32', [S], 'last_rows');
    const invariant = backend.isCpu; // GPU backends keep their batched kernels (batch-invariance.ts)
    const hidden = trunk(tape, {
      weights,
      proj: new Projection(copies, lora, null, invariant && nNew === 1),
      tokens: this.tokens,
      positions: this.positions,
      attention: (_, l) => (q, k, v) => this.attention(q, k, v, l),
      // only each slot's last real new position needs logits (a right-padded prompt ends before nNew)
      select: (x) => o.reshape(this.lastRows ? o.getRows(x, this.lastRows) : x, [c.dim, S]),
    });
    this.logits = g.output(nextTokenLogits(tape, copies, weights.lmHead, hidden, invariant)); // [V, S]
    if (output === 'probabilities') {
      this.inverseTemperature = g.input('f32', [1, S], 'inverse_temperature');
      this.probabilities = g.output(o.softmax(o.mul(this.logits, this.inverseTemperature)));
    }
    g.expand(this.probabilities ?? this.logits);
    g.allocate();
  }

  /** Attention of the new tokens over the cache, after writing their keys and values into it. */
  private attention(q: Tensor, k: Tensor, v: Tensor, layer: number): Tensor {
    const o = this.graph.ops;
    const c = this.weights.config;
    const { nNew, span, slots: S, slotStride } = this.shape;
    const hd = c.headDim,
      H = c.nHeads,
      Hkv = c.nKvHeads,
      ctx = this.cache.context,
      slotsAll = this.cache.slots;
    const K = this.cache.k[layer],
      V = this.cache.v[layer];
    const E = hd * Hkv;
    // write the new keys (one row of hd·Hkv per token) and values (one cell per element: V is transposed)
    // first, because graph nodes run in insertion order
    this.graph.expand(o.setRows(o.reshape(K, [E, ctx * slotsAll]), o.reshape(k, [E, nNew * S]), this.kRows));
    this.graph.expand(o.setRows(o.reshape(V, [1, ctx * E * slotsAll]), o.reshape(v, [1, E * nNew * S]), this.vCells));
    const keys = o.permute(o.view(K, [hd, Hkv, span, S], [hd * 4, E * 4, E * ctx * 4 * slotStride], 0), [0, 2, 1, 3]); // [hd, span, Hkv, S]
    const values = o.view(V, [span, hd, Hkv, S], [ctx * 4, ctx * hd * 4, ctx * E * 4 * slotStride], 0); // [span, hd, Hkv, S]
    const qh = o.permute(o.reshape(q, [hd, H, nNew, S]), [0, 2, 1, 3]); // [hd, nNew, H, S]
    // forward only, so ggml broadcasts kv head j over query heads j·H/Hkv … directly in 4-d (HF repeat_kv)
    const probs = o.softmaxMasked(o.matmul(keys, qh), this.mask, 1 / Math.sqrt(hd)); // [span, nNew, H, S]
    const out = o.matmul(values, probs); // [hd, nNew, H, S]
    return o.reshape(o.cont(o.permute(out, [0, 2, 1, 3])), [hd * H, nNew * S]);
  }

  /**
   * Upload one call: slot s (cache slot s·slotStride) receives tokens[s·nNew + i] at cache index start[s] + i
   * (`start` is one index for all slots, or one per slot: sequences that joined a batch at different times);
   * its first pad[s] cache positions are left padding (masked, and RoPE positions count from the first real one).
   * `lengths[s]` (default nNew) new tokens of slot s are real and the rest right padding: its logits are those
   * after its last real token, and the padding's cache entries are overwritten by the tokens decoded after it.
   * A graph of probabilities takes each slot's 1 / temperature (1 for greedy slots, whose log-probs are at T = 1).
   */
  write(
    tokens: Int32Array,
    pad: ArrayLike<number>,
    start: number | ArrayLike<number>,
    lengths?: ArrayLike<number>,
    inverseTemperatures?: ArrayLike<number>,
  ): void {
    const { nNew, span, slots: S } = this.shape;
    const startOf = typeof start === 'number' ? () => start : (s: number) => start[s];
    for (let s = 0; s < S; s++) {
      const at = startOf(s);
      if (!(at >= 0 && at + nNew <= span))
        throw new GrpoError('shape', `slot ${s}: tokens at ${at}…${at + nNew - 1} do not fit span ${span}`);
    }
    if (tokens.length !== nNew * S) throw new GrpoError('shape', `${tokens.length} tokens for ${S} slots × ${nNew}`);
    const cells = cacheCells(this.shape, this.cache, pad, startOf);
    const V = this.weights.config.vocabSize;
    for (const t of tokens)
      if (t < 0 || t >= V) throw new GrpoError('shape', `token ${t} is outside the vocabulary [0, ${V})`);
    this.tokens.write(tokens);
    this.positions.write(cells.positions);
    this.mask.write(cells.mask);
    this.kRows.write(cells.kRows);
    this.vCells.write(cells.vCells);
    this.lastRows?.write(lastRowsOf(this.shape, lengths));
    if (this.inverseTemperature) {
      if (!inverseTemperatures || inverseTemperatures.length !== S)
        throw new GrpoError('engine', `this decode graph returns probabilities: pass ${S} inverse temperatures`);
      this.inverseTemperature.write(Float32Array.from(inverseTemperatures));
    }
    this.inputsFresh = true;
  }

  compute(): Float32Array {
    if (!this.inputsFresh)
      throw new GrpoError('engine', 'DecodeGraph.compute() needs write() first: inputs do not survive a compute');
    this.inputsFresh = false;
    this.graph.compute();
    return (this.probabilities ?? this.logits).readF32();
  }

  free(): void {
    this.graph.free();
  }
}

/** Where a call's new tokens go in the cache, and what each of them sees. */
interface CacheCells {
  /** RoPE position of each new token */
  positions: Int32Array;
  /** its key row in the cache */
  kRows: Int32Array;
  /** its value cells in the transposed V cache */
  vCells: Int32Array;
  /** [span, nNew·S]: 0 where a new token sees a cache position, −∞ elsewhere */
  mask: Float32Array;
}

/** The cache cells and attention mask of slot s's tokens at cache index startOf(s) + i, left-padded by pad[s]. */
function cacheCells(
  shape: DecodeShape,
  cache: KvCache,
  pad: ArrayLike<number>,
  startOf: (s: number) => number,
): CacheCells {
  const { nNew, span, slots: S, slotStride } = shape;
  const c = cache.config,
    ctx = cache.context,
    E = c.headDim * c.nKvHeads;
  const N = nNew * S;
  const positions = new Int32Array(N),
    kRows = new Int32Array(N),
    vCells = new Int32Array(E * N);
  const mask = new Float32Array(span * N).fill(-Infinity);
  for (let s = 0; s < S; s++) {
    const slot = s * slotStride;
    for (let i = 0; i < nNew; i++) {
      const n = s * nNew + i,
        idx = startOf(s) + i;
      positions[n] = Math.max(0, idx - pad[s]);
      kRows[n] = slot * ctx + idx;
      // V cell (idx, d, h, slot) of the transposed cache; the source element order is e = h·hd + d
      for (let e = 0; e < E; e++) vCells[n * E + e] = (slot * E + e) * ctx + idx;
      const row = n * span;
      for (let j = pad[s]; j <= idx; j++) mask[row + j] = 0;
      // a padding query needs one visible key so its softmax stays finite; its output is never used
      if (idx < pad[s]) mask[row + idx] = 0;
    }
  }
  return { positions, kRows, vCells, mask };
}

/** The flat row of each slot's last real new token: `lengths[s]` (default nNew) of its nNew are real. */
function lastRowsOf(shape: DecodeShape, lengths?: ArrayLike<number>): Int32Array {
  const { nNew, slots: S } = shape;
  const last = new Int32Array(S);
  for (let s = 0; s < S; s++) {
    const len = lengths ? lengths[s] : nNew;
    if (!(Number.isInteger(len) && len >= 1 && len <= nNew))
      throw new GrpoError('shape', `slot ${s}: ${len} real tokens of ${nNew}`);
    last[s] = s * nNew + len - 1;
  }
  return last;
}

/**
 * Copy cache slots (positions [0, length)) from `source` into `target` (the same cache, or another of the same
 * model): each `[from, to[]]` pair copies source slot `from` into every target slot of `to`, so n samples of a
 * prompt share one prefill, and a grown cache takes over its sequences. All pairs run in one graph.
 */
export function copySlots(
  backend: Backend,
  source: KvCache,
  target: KvCache,
  copies: [number, number[]][],
  length: number,
): void {
  const targets = copies.reduce((n, [, to]) => n + to.length, 0);
  if (targets === 0) return;
  const c = source.config,
    hd = c.headDim,
    Hkv = c.nKvHeads;
  for (const [from, to] of copies) {
    if (!(from >= 0 && from < source.slots))
      throw new GrpoError('shape', `cache slot ${from} outside [0, ${source.slots})`);
    for (const s of to)
      if (!(s >= 0 && s < target.slots)) throw new GrpoError('shape', `cache slot ${s} outside [0, ${target.slots})`);
  }
  if (length < 1 || length > Math.min(source.context, target.context))
    throw new GrpoError('shape', `copy length ${length} outside [1, ${Math.min(source.context, target.context)}]`);
  const g = new ComputeGraph(backend, {
    maxNodes: (2 * copies.length + 4 * targets) * c.nLayers + 8,
    externalTensors: 4 * c.nLayers,
  });
  const o = g.ops;
  const strides = (ctx: number) => ({
    k: [hd * 4, hd * Hkv * 4, hd * Hkv * ctx * 4] as [number, number, number],
    v: [ctx * 4, ctx * hd * 4, ctx * hd * Hkv * 4] as [number, number, number],
  });
  const src = strides(source.context),
    dst = strides(target.context);
  try {
    for (let l = 0; l < c.nLayers; l++) {
      for (const [from, to] of copies) {
        const srcK = o.view(source.k[l], [hd, Hkv, length, 1], src.k, from * src.k[2]);
        const srcV = o.view(source.v[l], [length, hd, Hkv, 1], src.v, from * src.v[2]);
        for (const s of to) {
          g.expand(o.copyInto(srcK, o.view(target.k[l], [hd, Hkv, length, 1], dst.k, s * dst.k[2])));
          g.expand(o.copyInto(srcV, o.view(target.v[l], [length, hd, Hkv, 1], dst.v, s * dst.v[2])));
        }
      }
    }
    g.allocate();
    g.compute();
  } finally {
    g.free();
  }
}
