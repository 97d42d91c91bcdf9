/**
 * The copies of a model's matrices that its matmuls read, kept up to date with the weights:
 * - in `bf16` precision, BF16 copies of f32 matrices for the forward products (ggml's BF16 matmul reads half the
 *   bytes and uses AVX-512 BF16 dot products where the CPU has them); a matrix already held in low precision
 *   (a frozen bf16 / q8_0 LoRA base) is multiplied as it is;
 * - for training, transposed copies for the input gradients dX = Wᵀ·dY, so that they are ggml_mul_mat like every
 *   other product (ggml's mul_mat contracts over each operand's contiguous dimension).
 * Master weights, AdamW and gradient accumulation stay f32. Copies of f32 matrices are refreshed, in one graph,
 * whenever the weights changed (a load or an optimizer step that trains them); transposed copies of a frozen
 * low-precision base are made once per load, in its own type: by a graph on the CPU (bf16 / f16), on the host for
 * quantised blocks (which cannot be transposed in a graph) and on GPUs (whose backends may lack the strided copy).
 */
import { TensorStore } from '../engine/store.ts';
import { ComputeGraph } from '../engine/graph.ts';
import { BLOCK_ELEMENTS, type DType, type Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights } from './llama-weights.ts';
import { readHost, transposeHost, writeHost } from './host-transfer.ts';
import { GrpoError } from '../errors.ts';

export type Precision = 'f32' | 'bf16';
/** A precision, or 'auto': see resolvePrecision */
export type PrecisionSetting = Precision | 'auto';

export function checkPrecision(p: unknown, where = 'precision'): PrecisionSetting {
  if (p !== 'f32' && p !== 'bf16' && p !== 'auto')
    throw new GrpoError('config', `${where} must be 'f32', 'bf16' or 'auto', got '${String(p)}'`);
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

/** Copies of matrices (cast to `dtype`, or transposed and cast), refreshed by one graph. */
class GraphCopies {
  private readonly store: TensorStore;
  private readonly refresh: ComputeGraph;
  readonly of = new Map<Tensor, Tensor>();

  constructor(backend: Backend, matrices: Tensor[], dtype: (m: Tensor) => DType, transposed: boolean) {
    this.store = new TensorStore(matrices.length, transposed ? 'transposed weight copies' : 'weight copies');
    for (const m of matrices)
      this.of.set(
        m,
        this.store.declare(
          dtype(m),
          transposed ? [m.ne[1], m.ne[0]] : [m.ne[0], m.ne[1]],
          `${m.name}.${dtype(m)}${transposed ? '.T' : ''}`,
        ),
      );
    this.store.allocate(backend);
    this.refresh = new ComputeGraph(backend, {
      maxNodes: 3 * matrices.length + 8,
      externalTensors: 2 * matrices.length,
    });
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

/** Transposed copies of low-precision (frozen) matrices, made on the host one matrix at a time. */
class HostTransposedCopies {
  private readonly store: TensorStore;
  readonly of = new Map<Tensor, Tensor>();

  constructor(backend: Backend, matrices: Tensor[]) {
    this.store = new TensorStore(matrices.length, 'transposed base copies');
    for (const m of matrices) {
      // the copy's rows are the matrix's columns: quantised blocks need them to be a whole number of blocks
      const dtype = m.ne[1] % BLOCK_ELEMENTS[m.dtype] === 0 ? m.dtype : 'bf16';
      this.of.set(m, this.store.declare(dtype, [m.ne[1], m.ne[0]], `${m.name}.T`));
    }
    this.store.allocate(backend);
  }

  update(): void {
    // ggml [in, out] is row-major [out, in]; its transpose is row-major [in, out] = ggml [out, in]
    for (const [m, c] of this.of) writeHost(c, transposeHost(readHost(m), m.ne[1], m.ne[0]));
  }

  get byteSize(): number {
    return this.store.byteSize;
  }

  free(): void {
    this.store.free();
  }
}

export class WeightCopies {
  /** f32 matrices (the embedding table is gathered, not multiplied, unless tied) */
  private readonly exact: Tensor[];
  /** matrices held in low precision (a frozen base) */
  private readonly lowPrecision: Tensor[];
  private forwardSet: GraphCopies | null = null;
  private transposedSet: GraphCopies | null = null;
  private baseTransposed: GraphCopies | HostTransposedCopies | null = null;
  private synced: { loads: number; steps: number } | null = null;

  constructor(
    private readonly backend: Backend,
    weights: LlamaWeights,
    readonly precision: Precision,
  ) {
    const matrices = weights.layers
      .flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down])
      .concat([weights.lmHead]);
    this.exact = matrices.filter((m) => m.dtype === 'f32');
    this.lowPrecision = matrices.filter((m) => m.dtype !== 'f32');
    if (precision !== 'f32' && this.exact.length)
      this.forwardSet = new GraphCopies(backend, this.exact, () => precision, false);
  }

  /** The tensor a forward product multiplies with in place of w. */
  forward(w: Tensor): Tensor {
    return this.forwardSet?.of.get(w) ?? w;
  }

  /** wᵀ, for input gradients (after `withTransposed()`). */
  transposed(w: Tensor): Tensor {
    const t = this.transposedSet?.of.get(w) ?? this.baseTransposed?.of.get(w);
    if (!t)
      throw new GrpoError(
        'engine',
        `no transposed copy of ${w.describe()}: training graphs need WeightCopies.withTransposed()`,
      );
    return t;
  }

  /** Make the transposed copies (once; training graphs need them). */
  withTransposed(): this {
    if (!this.transposedSet && this.exact.length) {
      this.transposedSet = new GraphCopies(this.backend, this.exact, () => this.precision, true);
      if (this.synced) this.transposedSet.update();
    }
    if (!this.baseTransposed && this.lowPrecision.length) {
      const inGraph = this.backend.isCpu && this.lowPrecision.every((m) => BLOCK_ELEMENTS[m.dtype] === 1);
      this.baseTransposed = inGraph
        ? new GraphCopies(this.backend, this.lowPrecision, (m) => m.dtype, true)
        : new HostTransposedCopies(this.backend, this.lowPrecision);
      if (this.synced) this.baseTransposed.update();
    }
    return this;
  }

  /**
   * Bring the copies up to date: `loads` counts host writes of the weights, `steps` the optimizer steps that
   * changed the f32 matrices (a frozen base's copies follow loads only).
   */
  sync(loads: number, steps: number): void {
    const last = this.synced;
    if (last && last.loads === loads && last.steps === steps) return;
    this.forwardSet?.update();
    this.transposedSet?.update();
    if (!last || last.loads !== loads) this.baseTransposed?.update();
    this.synced = { loads, steps };
  }

  get byteSize(): number {
    return (
      (this.forwardSet?.byteSize ?? 0) + (this.transposedSet?.byteSize ?? 0) + (this.baseTransposed?.byteSize ?? 0)
    );
  }

  free(): void {
    this.forwardSet?.free();
    this.transposedSet?.free();
    this.baseTransposed?.free();
    this.forwardSet = this.transposedSet = this.baseTransposed = null;
  }
}
