/** Arithmetic ops: the matrix product, elementwise ops (some in place, on static tensors), and sums. */
import { ggml } from '../ffi.ts';
import { type Tensor, DTYPE_BYTES, BLOCK_ELEMENTS } from '../tensor.ts';
import { fail, canRepeat, sameShape, requireF32, isMatrixType, dim01Contiguous } from './op-call.ts';
import { LayoutOps } from './layout-ops.ts';

export class ArithmeticOps extends LayoutOps {
  /**
   * a [K, M, ...] × b [K, N, ...] → [M, N, ...] (ggml_mul_mat: result = a^T b per matrix, a broadcast over dims
   * 2–3). b is f32, or of a's low-precision type (ggml then skips converting it).
   */
  matmul(a: Tensor, b: Tensor): Tensor {
    const op = 'matmul';
    if (a.ne[0] !== b.ne[0]) fail(op, `inner dimensions differ: ${a.shapeText} vs ${b.shapeText}`);
    if (b.ne[2] % a.ne[2] !== 0 || b.ne[3] % a.ne[3] !== 0)
      fail(op, `cannot broadcast ${a.shapeText} over ${b.shapeText}`);
    if (a.nb[0] > a.nb[1]) fail(op, `first operand ${a.shapeText} must not be transposed`);
    if (b.nb[0] !== DTYPE_BYTES[b.dtype]) fail(op, `rows of the second operand ${b.shapeText} must be contiguous`);
    if (!isMatrixType(a) || (b.dtype !== 'f32' && b.dtype !== a.dtype))
      fail(op, `needs a float or q8_0 first operand and an f32 (or ${a.dtype}) second, got ${a.dtype}, ${b.dtype}`);
    if (a.ne[0] % BLOCK_ELEMENTS[a.dtype] !== 0) fail(op, `${a.describe()} rows are not whole ${a.dtype} blocks`);
    if (this.exactMatmuls) {
      if (a.dtype === 'f32' && !dim01Contiguous(a)) a = this.cont(a);
      if (b.dtype === 'f32' && !dim01Contiguous(b)) b = this.cont(b);
    }
    return this.wrap(op, [a, b], () => ggml.mul_mat(this.ctx.ptr, a.ptr, b.ptr), 'f32', [
      a.ne[1],
      b.ne[1],
      b.ne[2],
      b.ne[3],
    ]);
  }

  private binary(op: 'add' | 'sub' | 'mul' | 'div', a: Tensor, b: Tensor): Tensor {
    if (!canRepeat(b, a)) fail(op, `${b.shapeText} cannot be broadcast onto ${a.shapeText}`);
    if (a.dtype !== 'f32' || b.dtype !== 'f32') fail(op, `needs f32 operands, got ${a.dtype}, ${b.dtype}`);
    return this.wrap(op, [a, b], () => ggml[op](this.ctx.ptr, a.ptr, b.ptr), 'f32', a.ne);
  }
  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b);
  }
  sub(a: Tensor, b: Tensor): Tensor {
    return this.binary('sub', a, b);
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b);
  }
  div(a: Tensor, b: Tensor): Tensor {
    return this.binary('div', a, b);
  }

  /** acc += b, in place (the result is a view of acc): gradient accumulation into a static tensor. */
  addInto(acc: Tensor, b: Tensor): Tensor {
    const op = 'addInto';
    if (!sameShape(acc, b)) fail(op, `${b.shapeText} does not match the accumulator ${acc.describe()}`);
    if (acc.dtype !== 'f32' || b.dtype !== 'f32' || !acc.isContiguous)
      fail(op, 'needs a contiguous f32 accumulator and an f32 addend');
    return this.wrap(op, [acc, b], () => ggml.add_inplace(this.ctx.ptr, acc.ptr, b.ptr), 'f32', acc.ne, acc.nb);
  }

  /** acc *= b (b broadcast, e.g. a scalar), in place: scaling a static tensor with no temporary of its size. */
  scaleInto(acc: Tensor, b: Tensor): Tensor {
    const op = 'scaleInto';
    if (!canRepeat(b, acc)) fail(op, `${b.shapeText} cannot be broadcast onto ${acc.shapeText}`);
    if (acc.dtype !== 'f32' || b.dtype !== 'f32' || !acc.isContiguous)
      fail(op, 'needs a contiguous f32 tensor and an f32 factor');
    return this.wrap(op, [acc, b], () => ggml.mul_inplace(this.ctx.ptr, acc.ptr, b.ptr), 'f32', acc.ne, acc.nb);
  }

  scale(a: Tensor, s: number): Tensor {
    requireF32('scale', a);
    return this.wrap('scale', [a], () => ggml.scale(this.ctx.ptr, a.ptr, s), 'f32', a.ne);
  }
  /** s·a + b for a scalar b */
  scaleBias(a: Tensor, s: number, b: number): Tensor {
    requireF32('scaleBias', a);
    return this.wrap('scaleBias', [a], () => ggml.scale_bias(this.ctx.ptr, a.ptr, s, b), 'f32', a.ne);
  }
  sqr(a: Tensor): Tensor {
    requireF32('sqr', a);
    return this.wrap('sqr', [a], () => ggml.sqr(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  sqrt(a: Tensor): Tensor {
    requireF32('sqrt', a);
    return this.wrap('sqrt', [a], () => ggml.sqrt(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  log(a: Tensor): Tensor {
    requireF32('log', a);
    return this.wrap('log', [a], () => ggml.log(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  exp(a: Tensor): Tensor {
    requireF32('exp', a);
    return this.wrap('exp', [a], () => ggml.exp(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }

  /** sum of all elements → [1] */
  sum(a: Tensor): Tensor {
    requireF32('sum', a);
    return this.wrap('sum', [a], () => ggml.sum(this.ctx.ptr, a.ptr), 'f32', [1]);
  }
  /** sum over ne0 → [1, ne1, ne2, ne3] */
  sumRows(a: Tensor): Tensor {
    requireF32('sumRows', a);
    return this.wrap('sumRows', [a], () => ggml.sum_rows(this.ctx.ptr, a.ptr), 'f32', [1, a.ne[1], a.ne[2], a.ne[3]]);
  }

  /** Sum a over every dimension where `like` has size 1 (the gradient of broadcasting `like` onto a). */
  sumTo(a: Tensor, like: Tensor): Tensor {
    const op = 'sumTo';
    requireF32(op, a);
    if (like.ne.some((n, i) => n !== 1 && n !== a.ne[i]))
      fail(op, `${a.shapeText} cannot be summed to ${like.shapeText}`);
    if (a.nb[0] !== 4) fail(op, `rows of ${a.shapeText} must be contiguous`);
    return this.wrap(op, [a, like], () => ggml.repeat_back(this.ctx.ptr, a.ptr, like.ptr), 'f32', like.ne);
  }
}
