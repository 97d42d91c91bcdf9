/**
 * Typed handle of a ggml tensor. The shape, strides and dtype are mirrored in TypeScript so every op can be
 * checked before ggml sees it (a ggml assertion aborts the process instead of throwing).
 *
 * Shapes are in ggml order: `ne[0]` is the innermost (contiguous) dimension. A PyTorch tensor of shape
 * [out, in] is a ggml tensor with ne = [in, out].
 */
import { ggml, koffi, type Ptr } from './ffi.ts';
import { GrpoError } from '../errors.ts';

/** What owns a tensor's metadata (a ggml context): once freed, the tensor must not be touched. */
export interface TensorOwner {
  readonly alive: boolean;
}

/** Offset of `struct ggml_backend_buffer * buffer` in `struct ggml_tensor` (after the 4-byte type, aligned). */
const BUFFER_FIELD_OFFSET = 8;

export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'q8_0';

export const GGML_TYPE: Record<DType, number> = { f32: 0, f16: 1, q8_0: 8, i32: 26, bf16: 30 };
/** Bytes of one block of BLOCK_ELEMENTS elements (one element for the plain types). */
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, i32: 4, q8_0: 34 };
/** Elements per block: Q8_0 stores 32 int8 values with one f16 scale. */
export const BLOCK_ELEMENTS: Record<DType, number> = { f32: 1, f16: 1, bf16: 1, i32: 1, q8_0: 32 };

/** Bytes of a row of ne0 elements. */
export function rowBytes(dtype: DType, ne0: number): number {
  return (ne0 / BLOCK_ELEMENTS[dtype]) * DTYPE_BYTES[dtype];
}

export class Tensor {
  /** ggml shape, innermost first, always 4 entries (trailing 1s). */
  readonly ne: readonly [number, number, number, number];
  /** byte strides, matching ggml's nb */
  readonly nb: readonly [number, number, number, number];

  constructor(
    readonly ptr: Ptr,
    readonly dtype: DType,
    ne: readonly number[],
    nb: readonly number[] | undefined,
    readonly name: string,
    /** the context holding the tensor's metadata; every use checks it is still alive */
    readonly owner: TensorOwner,
  ) {
    if (!ptr)
      throw new GrpoError('engine', `ggml returned a null tensor for '${name}' (its context is out of metadata space)`);
    const n4 = [1, 1, 1, 1].map((one, i) => ne[i] ?? one) as [number, number, number, number];
    this.ne = n4;
    this.nb = (nb as [number, number, number, number] | undefined) ?? contiguousStrides(n4, dtype);
  }

  private param = false;

  /**
   * Throw instead of touching freed memory: a tensor of a freed model, store or graph would otherwise make ggml
   * abort the process (`GGML_ASSERT(buf != NULL)`) or read garbage.
   */
  assertAlive(): void {
    if (!this.owner.alive)
      throw new GrpoError('engine', `${this.describe()} was used after its model, store or graph was freed`);
  }

  /** The tensor has memory to read or write (its store or graph was allocated, and not freed since). */
  get hasData(): boolean {
    return this.owner.alive && koffi.decode(this.ptr, BUFFER_FIELD_OFFSET, 'void *') !== null;
  }

  private assertData(what: string): void {
    this.assertAlive();
    if (!this.hasData)
      throw new GrpoError(
        'engine',
        `${what} ${this.describe()}: it has no memory yet (allocate its store or graph first, or use a tensor the graph computes)`,
      );
  }

  /** Flag as a trainable parameter (ggml requires it for optimizer steps). */
  markParam(): void {
    this.assertAlive();
    if (this.param) return;
    ggml.set_param(this.ptr);
    this.param = true;
  }

  get isParam(): boolean {
    return this.param;
  }

  get numel(): number {
    return this.ne[0] * this.ne[1] * this.ne[2] * this.ne[3];
  }

  get nbytes(): number {
    return rowBytes(this.dtype, this.ne[0]) * this.ne[1] * this.ne[2] * this.ne[3];
  }

  get isContiguous(): boolean {
    const want = contiguousStrides(this.ne, this.dtype);
    return this.ne.every((n, i) => n === 1 || this.nb[i] === want[i]);
  }

  /** Shape without trailing 1s, for messages. */
  get shapeText(): string {
    let k = 4;
    while (k > 1 && this.ne[k - 1] === 1) k--;
    return `[${this.ne.slice(0, k).join(', ')}]`;
  }

  describe(): string {
    return `${this.name || 'tensor'} ${this.shapeText} ${this.dtype}`;
  }

  /** Copy host data into the tensor (its buffer must be allocated): Q8_0 as its raw blocks. */
  write(data: Float32Array | Int32Array | Uint16Array | Uint8Array): void {
    const expected =
      this.dtype === 'i32'
        ? Int32Array
        : this.dtype === 'f32'
          ? Float32Array
          : this.dtype === 'q8_0'
            ? Uint8Array
            : Uint16Array;
    if (!(data instanceof expected)) {
      throw new GrpoError(
        'shape',
        `writing ${data.constructor.name} into ${this.describe()}: expected ${expected.name}`,
      );
    }
    if (data.byteLength !== this.nbytes) {
      throw new GrpoError('shape', `writing ${data.length} values into ${this.describe()}, which holds ${this.numel}`);
    }
    if (!this.isContiguous) throw new GrpoError('shape', `cannot write into non-contiguous ${this.describe()}`);
    this.assertData('writing into');
    ggml.backend_tensor_set(this.ptr, data, 0, data.byteLength);
  }

  /** Read an f32 tensor back to the host. */
  readF32(out?: Float32Array): Float32Array {
    if (this.dtype !== 'f32') throw new GrpoError('shape', `readF32 on ${this.describe()}`);
    if (!this.isContiguous) throw new GrpoError('shape', `cannot read non-contiguous ${this.describe()}`);
    const dst = out ?? new Float32Array(this.numel);
    if (dst.length !== this.numel)
      throw new GrpoError('shape', `read buffer has ${dst.length} floats, ${this.describe()} holds ${this.numel}`);
    this.assertData('reading');
    ggml.backend_tensor_get(this.ptr, dst, 0, this.nbytes);
    return dst;
  }

  /** Read the tensor's raw bytes (any dtype) into `out`. */
  readBytes(out: Uint8Array): Uint8Array {
    if (out.byteLength !== this.nbytes)
      throw new GrpoError('shape', `read buffer has ${out.byteLength} bytes, ${this.describe()} holds ${this.nbytes}`);
    if (!this.isContiguous) throw new GrpoError('shape', `cannot read non-contiguous ${this.describe()}`);
    this.assertData('reading');
    ggml.backend_tensor_get(this.ptr, out, 0, this.nbytes);
    return out;
  }

  readScalar(): number {
    return this.readF32(new Float32Array(this.numel))[0];
  }
}

export function contiguousStrides(ne: readonly number[], dtype: DType): [number, number, number, number] {
  const nb: [number, number, number, number] = [DTYPE_BYTES[dtype], rowBytes(dtype, ne[0] ?? 1), 0, 0];
  for (let i = 2; i < 4; i++) nb[i] = nb[i - 1] * (ne[i - 1] ?? 1);
  return nb;
}
