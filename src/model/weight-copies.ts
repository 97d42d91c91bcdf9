/**
 * The copies of a model's matrices that its matmuls read, kept up to date with the f32 master weights:
 * - in `bf16` precision, BF16 copies for the forward products (ggml's BF16 matmul reads half the bytes and uses
 *   AVX-512 BF16 dot products where the CPU has them);
 * - for training, transposed copies (in the compute precision) for the input gradients dX = Wᵀ·dY, so that they
 *   are ggml_mul_mat like every other product (ggml's mul_mat contracts over each operand's contiguous dimension).
 * Master weights, AdamW and gradient accumulation stay f32. The copies are refreshed, in one graph, whenever the
 * weights changed (a load or an optimizer step).
 */
import { TensorStore } from '../engine/store.ts';
import { ComputeGraph } from '../engine/graph.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights } from './llama-weights.ts';
import { GrpoError } from '../errors.ts';

export type Precision = 'f32' | 'bf16';
/** A precision, or 'auto': see resolvePrecision */
export type PrecisionSetting = Precision | 'auto';

export function checkPrecision(p: unknown, where = 'precision'): PrecisionSetting {
  if (p !== 'f32' && p !== 'bf16' && p !== 'auto') throw new GrpoError('config', `${where} must be 'f32', 'bf16' or 'auto', got '${String(p)}'`);
  return p;
}

/**
 * 'auto' is the fastest precision this CPU's ggml build has: bf16 where it multiplies BF16 with vector instructions
 * — AVX-512 BF16 dot products (about 2× the f32 matmul rate) or AVX2 (converting loads; measured 5–8% faster than f32
 * training steps on Zen 3, from moving half the bytes) — else f32, the exact reference (ARM and older x86 builds,
 * where ggml's BF16 path is not known to be faster).
 */
export function resolvePrecision(p: PrecisionSetting, backend: Backend): Precision {
  if (p !== 'auto') return checkPrecision(p) as Precision;
  const f = backend.features;
  return f.has('AVX512_BF16') || f.has('AVX2') ? 'bf16' : 'f32';
}

/** One store of copies and the graph that refreshes them. */
class CopySet {
  private readonly store: TensorStore;
  private readonly refresh: ComputeGraph;
  readonly of = new Map<Tensor, Tensor>();

  constructor(backend: Backend, matrices: Tensor[], precision: Precision, transposed: boolean) {
    this.store = new TensorStore(matrices.length, transposed ? 'transposed weight copies' : `${precision} weight copies`);
    for (const m of matrices) {
      const ne = transposed ? [m.ne[1], m.ne[0]] : [m.ne[0], m.ne[1]];
      this.of.set(m, this.store.declare(precision, ne, `${m.name}.${precision}${transposed ? '.T' : ''}`));
    }
    this.store.allocate(backend);
    this.refresh = new ComputeGraph(backend, { maxNodes: 3 * matrices.length + 8, externalTensors: 2 * matrices.length });
    const o = this.refresh.ops;
    for (const [m, c] of this.of) this.refresh.expand(o.copyInto(transposed ? o.transpose(m) : m, c));
    this.refresh.allocate();
  }

  update(): void {
    this.refresh.compute();
  }

  get byteSize(): number {
    return this.store.byteSize;
  }

  free(): void {
    this.refresh.free();
    this.store.free();
  }
}

export class WeightCopies {
  /** every matrix used as a matmul's first operand (the embedding table is gathered, not multiplied, unless tied) */
  private readonly matrices: Tensor[];
  private forwardSet: CopySet | null = null;
  private transposedSet: CopySet | null = null;
  /** the weights revision the copies were made from */
  private revision = -1;

  constructor(private readonly backend: Backend, weights: LlamaWeights, readonly precision: Precision) {
    this.matrices = weights.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down]).concat([weights.lmHead]);
    if (precision !== 'f32') this.forwardSet = new CopySet(backend, this.matrices, precision, false);
  }

  /** The tensor a forward product multiplies with in place of w. */
  forward(w: Tensor): Tensor {
    return this.forwardSet?.of.get(w) ?? w;
  }

  /** wᵀ in the compute precision, for input gradients (after `withTransposed()`). */
  transposed(w: Tensor): Tensor {
    const t = this.transposedSet?.of.get(w);
    if (!t) throw new GrpoError('engine', `no transposed copy of ${w.describe()}: training graphs need WeightCopies.withTransposed()`);
    return t;
  }

  /** Make the transposed copies (once; training graphs need them). */
  withTransposed(): this {
    if (!this.transposedSet) {
      this.transposedSet = new CopySet(this.backend, this.matrices, this.precision, true);
      if (this.revision >= 0) this.transposedSet.update();
    }
    return this;
  }

  /** Bring the copies up to date with the f32 weights at `revision`. */
  sync(revision: number): void {
    if (revision === this.revision) return;
    this.forwardSet?.update();
    this.transposedSet?.update();
    this.revision = revision;
  }

  get byteSize(): number {
    return (this.forwardSet?.byteSize ?? 0) + (this.transposedSet?.byteSize ?? 0);
  }

  free(): void {
    this.forwardSet?.free();
    this.transposedSet?.free();
    this.forwardSet = this.transposedSet = null;
  }
}
