/**
 * The base of the graph-building ops (../ops.ts): one ggml op call made safe. Each op checks in TypeScript exactly
 * the conditions ggml would assert (and abort the process on) — with the shape rules here — then `wrap` checks
 * that its operands' owners are still alive and that the context has room, calls ggml and returns a Tensor with
 * the result's shape.
 */
import { Tensor, DTYPE_BYTES, rowBytes, type DType } from '../tensor.ts';
import type { Context } from '../context.ts';
import { GrpoError } from '../../errors.ts';

export type Ne = [number, number, number, number];

export function fail(op: string, msg: string): never {
  throw new GrpoError('shape', `${op}: ${msg}`);
}

export function isFloat(t: Tensor): boolean {
  return t.dtype === 'f32' || t.dtype === 'f16' || t.dtype === 'bf16';
}

/** A matmul's first operand: a float or a quantised matrix (ggml converts the second operand to match). */
export function isMatrixType(t: Tensor): boolean {
  return isFloat(t) || t.dtype === 'q8_0';
}

/** b can be broadcast (tiled) onto a, as ggml_can_repeat requires. */
export function canRepeat(b: Tensor, a: Tensor): boolean {
  return b.ne.every((n, i) => a.ne[i] % n === 0);
}

export function sameShape(a: Tensor, b: Tensor): boolean {
  return a.ne.every((n, i) => n === b.ne[i]);
}

export function requireF32(op: string, a: Tensor): void {
  if (a.dtype !== 'f32') fail(op, `needs f32, got ${a.describe()}`);
}

/** ggml-vulkan converts a matmul operand whose first two dimensions are not contiguous to f16 (or bf16) first */
export function dim01Contiguous(t: Tensor): boolean {
  return (
    t.nb[0] === DTYPE_BYTES[t.dtype] &&
    t.nb[1] === rowBytes(t.dtype, t.ne[0]) &&
    (t.ne[3] === 1 || t.nb[3] === t.nb[2] * t.ne[2])
  );
}

export class OpCall {
  /**
   * `exactMatmuls`: make f32 matmul operands contiguous first, so a GPU backend multiplies them in f32 (ggml-vulkan
   * would round a strided operand to f16: errors of ~1e-3 where the CPU's are ~1e-6)
   */
  constructor(
    readonly ctx: Context,
    protected readonly exactMatmuls = false,
  ) {}

  /** Run one ggml op call after checking its operands are alive and there is room for its result. */
  protected wrap(
    op: string,
    operands: Tensor[],
    call: () => bigint,
    dtype: DType,
    ne: readonly number[],
    nb?: readonly number[],
  ): Tensor {
    for (const t of operands) t.assertAlive();
    this.ctx.reserve(1, op);
    const ptr = call();
    if (!ptr) fail(op, 'ggml returned null (graph context out of metadata space)');
    return new Tensor(ptr, dtype, ne, nb, '', this.ctx);
  }
}
