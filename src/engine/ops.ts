/**
 * Shape-checked graph-building ops. Each method validates in TypeScript exactly the conditions ggml would
 * assert (and abort the process on), checks that its operands' owners are still alive, then calls ggml and
 * returns a Tensor with the result's shape. Forward ops and the backward kernels the hand-written backward
 * needs (model/pieces/) are both here; nothing relies on ggml's autodiff.
 */
import { ggml } from './ffi.ts';
import { Tensor, DTYPE_BYTES, BLOCK_ELEMENTS, GGML_TYPE, contiguousStrides, rowBytes, type DType } from './tensor.ts';
import type { Context } from './context.ts';
import { GrpoError } from '../errors.ts';

type Ne = [number, number, number, number];

function fail(op: string, msg: string): never {
  throw new GrpoError('shape', `${op}: ${msg}`);
}

function isFloat(t: Tensor): boolean {
  return t.dtype === 'f32' || t.dtype === 'f16' || t.dtype === 'bf16';
}

/** A matmul's first operand: a float or a quantised matrix (ggml converts the second operand to match). */
function isMatrixType(t: Tensor): boolean {
  return isFloat(t) || t.dtype === 'q8_0';
}

/** b can be broadcast (tiled) onto a, as ggml_can_repeat requires. */
function canRepeat(b: Tensor, a: Tensor): boolean {
  return b.ne.every((n, i) => a.ne[i] % n === 0);
}

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.ne.every((n, i) => n === b.ne[i]);
}

export const ROPE_NEOX = 2;

/** ggml-vulkan converts a matmul operand whose first two dimensions are not contiguous to f16 (or bf16) first */
function dim01Contiguous(t: Tensor): boolean {
  return (
    t.nb[0] === DTYPE_BYTES[t.dtype] &&
    t.nb[1] === rowBytes(t.dtype, t.ne[0]) &&
    (t.ne[3] === 1 || t.nb[3] === t.nb[2] * t.ne[2])
  );
}

export class Ops {
  /**
   * `exactMatmuls`: make f32 matmul operands contiguous first, so a GPU backend multiplies them in f32 (ggml-vulkan
   * would round a strided operand to f16: errors of ~1e-3 where the CPU's are ~1e-6)
   */
  constructor(
    readonly ctx: Context,
    private readonly exactMatmuls = false,
  ) {}

  /** Run one ggml op call after checking its operands are alive and there is room for its result. */
  private wrap(
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

  private unaryF32(op: string, a: Tensor): void {
    if (a.dtype !== 'f32') fail(op, `needs f32, got ${a.describe()}`);
  }
  scale(a: Tensor, s: number): Tensor {
    this.unaryF32('scale', a);
    return this.wrap('scale', [a], () => ggml.scale(this.ctx.ptr, a.ptr, s), 'f32', a.ne);
  }
  /** s·a + b for a scalar b */
  scaleBias(a: Tensor, s: number, b: number): Tensor {
    this.unaryF32('scaleBias', a);
    return this.wrap('scaleBias', [a], () => ggml.scale_bias(this.ctx.ptr, a.ptr, s, b), 'f32', a.ne);
  }
  sqr(a: Tensor): Tensor {
    this.unaryF32('sqr', a);
    return this.wrap('sqr', [a], () => ggml.sqr(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  sqrt(a: Tensor): Tensor {
    this.unaryF32('sqrt', a);
    return this.wrap('sqrt', [a], () => ggml.sqrt(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  log(a: Tensor): Tensor {
    this.unaryF32('log', a);
    return this.wrap('log', [a], () => ggml.log(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  exp(a: Tensor): Tensor {
    this.unaryF32('exp', a);
    return this.wrap('exp', [a], () => ggml.exp(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }
  silu(a: Tensor): Tensor {
    this.unaryF32('silu', a);
    return this.wrap('silu', [a], () => ggml.silu(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }

  /** silu(a) ⊙ b in one pass (a and b of one shape, rows contiguous) */
  swiglu(a: Tensor, b: Tensor): Tensor {
    const op = 'swiglu';
    this.unaryF32(op, a);
    this.unaryF32(op, b);
    if (!sameShape(a, b) || a.nb[0] !== 4 || b.nb[0] !== 4)
      fail(op, `needs two row-contiguous tensors of one shape, got ${a.shapeText}, ${b.shapeText}`);
    return this.wrap(op, [a, b], () => ggml.swiglu_split(this.ctx.ptr, a.ptr, b.ptr), 'f32', a.ne);
  }

  /** dy · silu'(x) */
  siluBack(dy: Tensor, x: Tensor): Tensor {
    const op = 'siluBack';
    this.unaryF32(op, dy);
    this.unaryF32(op, x);
    if (!sameShape(dy, x)) fail(op, `gradient ${dy.shapeText} does not match input ${x.shapeText}`);
    return this.wrap(op, [dy, x], () => ggml.silu_back(this.ctx.ptr, dy.ptr, x.ptr), 'f32', x.ne);
  }

  /** sum of all elements → [1] */
  sum(a: Tensor): Tensor {
    this.unaryF32('sum', a);
    return this.wrap('sum', [a], () => ggml.sum(this.ctx.ptr, a.ptr), 'f32', [1]);
  }
  /** sum over ne0 → [1, ne1, ne2, ne3] */
  sumRows(a: Tensor): Tensor {
    this.unaryF32('sumRows', a);
    return this.wrap('sumRows', [a], () => ggml.sum_rows(this.ctx.ptr, a.ptr), 'f32', [1, a.ne[1], a.ne[2], a.ne[3]]);
  }

  /** Sum a over every dimension where `like` has size 1 (the gradient of broadcasting `like` onto a). */
  sumTo(a: Tensor, like: Tensor): Tensor {
    const op = 'sumTo';
    this.unaryF32(op, a);
    if (like.ne.some((n, i) => n !== 1 && n !== a.ne[i]))
      fail(op, `${a.shapeText} cannot be summed to ${like.shapeText}`);
    if (a.nb[0] !== 4) fail(op, `rows of ${a.shapeText} must be contiguous`);
    return this.wrap(op, [a, like], () => ggml.repeat_back(this.ctx.ptr, a.ptr, like.ptr), 'f32', like.ne);
  }

  /** RMSNorm over ne0 (no weight: multiply by the gain separately) */
  rmsNorm(a: Tensor, eps: number): Tensor {
    this.unaryF32('rmsNorm', a);
    if (a.nb[0] !== 4) fail('rmsNorm', `rows of ${a.shapeText} must be contiguous`);
    return this.wrap('rmsNorm', [a], () => ggml.rms_norm(this.ctx.ptr, a.ptr, eps), 'f32', a.ne);
  }

  /** Gradient of rmsNorm(x) given dy (both [E, ...], rows contiguous). */
  rmsNormBack(dy: Tensor, x: Tensor, eps: number): Tensor {
    const op = 'rmsNormBack';
    this.unaryF32(op, dy);
    this.unaryF32(op, x);
    if (!sameShape(dy, x) || !dy.isContiguous || !x.isContiguous)
      fail(op, `needs contiguous gradient and input of one shape, got ${dy.shapeText}, ${x.shapeText}`);
    return this.wrap(op, [dy, x], () => ggml.rms_norm_back(this.ctx.ptr, dy.ptr, x.ptr, eps), 'f32', x.ne);
  }

  /** Rows of a [E, R, ...] picked by i32 indices idx [n, ...] → f32 [E, n, ...] (a low-precision source is widened). */
  getRows(a: Tensor, idx: Tensor): Tensor {
    const op = 'getRows';
    if (idx.dtype !== 'i32') fail(op, `indices must be i32, got ${idx.dtype}`);
    if (a.ne[2] !== idx.ne[1] || idx.ne[3] !== 1 || a.ne[3] !== idx.ne[2])
      fail(op, `index ${idx.shapeText} does not match source ${a.shapeText}`);
    if (!isMatrixType(a)) fail(op, `source must be a float or q8_0 tensor, got ${a.dtype}`);
    return this.wrap(op, [a, idx], () => ggml.get_rows(this.ctx.ptr, a.ptr, idx.ptr), 'f32', [
      a.ne[0],
      idx.ne[0],
      idx.ne[1],
      idx.ne[2],
    ]);
  }

  /** Gradient of getRows(like [E, R], idx [n]) given dy [E, n]: rows of dy added into a zero [E, R]. */
  getRowsBack(dy: Tensor, idx: Tensor, like: Tensor): Tensor {
    const op = 'getRowsBack';
    if (idx.dtype !== 'i32' || idx.ne[1] * idx.ne[2] * idx.ne[3] !== 1) fail(op, 'indices must be an i32 vector');
    if (like.ne[2] * like.ne[3] !== 1 || dy.ne[2] * dy.ne[3] !== 1) fail(op, 'needs 2-d tensors');
    if (dy.ne[0] !== like.ne[0] || dy.ne[1] !== idx.ne[0] || dy.dtype !== 'f32' || dy.nb[0] !== 4)
      fail(op, `gradient ${dy.describe()} does not fit ${idx.ne[0]} rows of ${like.shapeText}`);
    return this.wrap(
      op,
      [dy, idx, like],
      () => ggml.get_rows_back(this.ctx.ptr, dy.ptr, idx.ptr, like.ptr),
      'f32',
      like.ne,
    );
  }

  /** softmax over ne0 */
  softmax(a: Tensor): Tensor {
    this.unaryF32('softmax', a);
    return this.wrap('softmax', [a], () => ggml.soft_max(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }

  /** softmax(scale·a + mask) over ne0; mask [ne0, ≥ne1] (f32), broadcast over dims 2–3. */
  softmaxMasked(a: Tensor, mask: Tensor | null, scale: number): Tensor {
    const op = 'softmaxMasked';
    this.unaryF32(op, a);
    if (mask) {
      if (mask.dtype !== 'f32') fail(op, `mask must be f32, got ${mask.dtype}`);
      if (mask.ne[0] !== a.ne[0] || mask.ne[1] < a.ne[1])
        fail(op, `mask ${mask.shapeText} does not cover scores ${a.shapeText}`);
      if (a.ne[2] % mask.ne[2] !== 0 || a.ne[3] % mask.ne[3] !== 0)
        fail(op, `mask ${mask.shapeText} cannot broadcast over ${a.shapeText}`);
    }
    return this.wrap(
      op,
      mask ? [a, mask] : [a],
      () => ggml.soft_max_ext(this.ctx.ptr, a.ptr, mask ? mask.ptr : null, scale, 0),
      'f32',
      a.ne,
    );
  }

  private checkRope(op: string, a: Tensor, positions: Tensor, nDims: number): void {
    this.unaryF32(op, a);
    if (positions.dtype !== 'i32' || positions.ne[1] * positions.ne[2] * positions.ne[3] !== 1)
      fail(op, 'positions must be an i32 vector');
    if (positions.ne[0] !== a.ne[2]) fail(op, `${positions.ne[0]} positions for ${a.ne[2]} tokens`);
    if (nDims % 2 !== 0 || nDims > a.ne[0]) fail(op, `rotary dims ${nDims} must be even and ≤ head dim ${a.ne[0]}`);
  }

  /** RoPE over a [headDim, heads, tokens]; positions i32 [tokens]. NeoX (half-rotation) mode = Hugging Face layout. */
  rope(a: Tensor, positions: Tensor, nDims: number, freqBase: number): Tensor {
    this.checkRope('rope', a, positions, nDims);
    return this.wrap(
      'rope',
      [a, positions],
      () => ggml.rope_ext(this.ctx.ptr, a.ptr, positions.ptr, null, nDims, ROPE_NEOX, 0, freqBase, 1, 0, 1, 0, 0),
      'f32',
      a.ne,
    );
  }

  /** Gradient of rope (the inverse rotation) given dy [headDim, heads, tokens]. */
  ropeBack(dy: Tensor, positions: Tensor, nDims: number, freqBase: number): Tensor {
    this.checkRope('ropeBack', dy, positions, nDims);
    if (!dy.isContiguous) fail('ropeBack', `gradient ${dy.shapeText} must be contiguous`);
    return this.wrap(
      'ropeBack',
      [dy, positions],
      () => ggml.rope_ext_back(this.ctx.ptr, dy.ptr, positions.ptr, null, nDims, ROPE_NEOX, 0, freqBase, 1, 0, 1, 0, 0),
      'f32',
      dy.ne,
    );
  }

  reshape(a: Tensor, ne: number[]): Tensor {
    const op = 'reshape';
    if (!a.isContiguous) fail(op, `${a.shapeText} is not contiguous; call cont() first`);
    const n = ne.reduce((x, y) => x * y, 1);
    if (n !== a.numel) fail(op, `${a.shapeText} has ${a.numel} elements, target [${ne.join(', ')}] has ${n}`);
    const p = this.ctx.ptr;
    if (ne.length < 2 || ne.length > 4) fail(op, 'target must have 2 to 4 dimensions');
    return this.wrap(
      op,
      [a],
      () =>
        ne.length === 2
          ? ggml.reshape_2d(p, a.ptr, ne[0], ne[1])
          : ne.length === 3
            ? ggml.reshape_3d(p, a.ptr, ne[0], ne[1], ne[2])
            : ggml.reshape_4d(p, a.ptr, ne[0], ne[1], ne[2], ne[3]),
      a.dtype,
      ne,
    );
  }

  /** A strided 4-d view into a, `offset` in bytes. */
  view(a: Tensor, ne: Ne, nb: [number, number, number], offset: number): Tensor {
    const op = 'view';
    const es = DTYPE_BYTES[a.dtype];
    if (ne[0] % BLOCK_ELEMENTS[a.dtype] !== 0) fail(op, `a ${a.dtype} view must hold whole blocks`);
    const last = offset + rowBytes(a.dtype, ne[0]) + (ne[1] - 1) * nb[0] + (ne[2] - 1) * nb[1] + (ne[3] - 1) * nb[2];
    if (offset < 0 || last > a.nbytes)
      fail(op, `view [${ne.join(', ')}] at offset ${offset} runs past the end of ${a.describe()}`);
    return this.wrap(
      op,
      [a],
      () => ggml.view_4d(this.ctx.ptr, a.ptr, ne[0], ne[1], ne[2], ne[3], nb[0], nb[1], nb[2], offset),
      a.dtype,
      ne,
      [es, ...nb],
    );
  }

  /** Columns [from, from + n) of a contiguous [E, N] tensor, as a view [E, n]. */
  columns(a: Tensor, from: number, n: number): Tensor {
    if (!a.isContiguous || a.ne[2] * a.ne[3] !== 1) fail('columns', `${a.describe()} must be a contiguous matrix`);
    if (from < 0 || n < 1 || from + n > a.ne[1]) fail('columns', `columns ${from}…${from + n - 1} of ${a.shapeText}`);
    return this.view(a, [a.ne[0], n, 1, 1], [a.nb[1], a.nb[1] * n, a.nb[1] * n], from * a.nb[1]);
  }

  /** ggml_permute: source dimension i moves to position axes[i]. */
  permute(a: Tensor, axes: Ne): Tensor {
    if ([...axes].sort().join() !== '0,1,2,3') fail('permute', `axes ${axes.join(',')} are not a permutation of 0..3`);
    const ne = [0, 0, 0, 0] as Ne,
      nb = [0, 0, 0, 0] as Ne;
    for (let i = 0; i < 4; i++) {
      ne[axes[i]] = a.ne[i];
      nb[axes[i]] = a.nb[i];
    }
    return this.wrap(
      'permute',
      [a],
      () => ggml.permute(this.ctx.ptr, a.ptr, axes[0], axes[1], axes[2], axes[3]),
      a.dtype,
      ne,
      nb,
    );
  }

  /** Swap dims 0 and 1 (a view). */
  transpose(a: Tensor): Tensor {
    const ne: Ne = [a.ne[1], a.ne[0], a.ne[2], a.ne[3]];
    const nb: Ne = [a.nb[1], a.nb[0], a.nb[2], a.nb[3]];
    return this.wrap('transpose', [a], () => ggml.transpose(this.ctx.ptr, a.ptr), a.dtype, ne, nb);
  }

  cont(a: Tensor): Tensor {
    return this.wrap(
      'cont',
      [a],
      () => ggml.cont(this.ctx.ptr, a.ptr),
      a.dtype,
      a.ne,
      contiguousStrides(a.ne, a.dtype),
    );
  }

  /** A contiguous copy of a (any layout) converted to dtype; a q8_0 tensor converts (dequantises) to f32 only. */
  cast(a: Tensor, dtype: 'f32' | 'f16' | 'bf16'): Tensor {
    if (!isFloat(a) && !(a.dtype === 'q8_0' && dtype === 'f32' && a.isContiguous))
      fail('cast', `cannot convert ${a.describe()} to ${dtype}`);
    if (dtype === a.dtype) return a.isContiguous ? a : this.cont(a);
    return this.wrap('cast', [a], () => ggml.cast(this.ctx.ptr, a.ptr, GGML_TYPE[dtype]), dtype, a.ne);
  }

  /** a and b joined along dimension `dim` (other dimensions equal). */
  concat(a: Tensor, b: Tensor, dim: number): Tensor {
    const op = 'concat';
    if (a.dtype !== b.dtype) fail(op, `dtypes differ: ${a.dtype}, ${b.dtype}`);
    if (a.ne.some((n, i) => i !== dim && n !== b.ne[i]))
      fail(op, `${a.shapeText} and ${b.shapeText} differ outside dimension ${dim}`);
    const ne = [...a.ne] as Ne;
    ne[dim] += b.ne[dim];
    return this.wrap(op, [a, b], () => ggml.concat(this.ctx.ptr, a.ptr, b.ptr, dim), a.dtype, ne);
  }

  /** Copy a into b (same element count, b's layout); the result is a view of b. */
  copyInto(a: Tensor, b: Tensor): Tensor {
    if (a.numel !== b.numel) fail('copyInto', `${a.describe()} and ${b.describe()} differ in size`);
    return this.wrap('copyInto', [a, b], () => ggml.cpy(this.ctx.ptr, a.ptr, b.ptr), b.dtype, b.ne, b.nb);
  }

  /**
   * Scatter: row i of `src` [E, n] is written to row idx[i] of `dst` [E, R] (in place; the result is a view of
   * dst). Indices are trusted to lie in [0, R) — callers compute them — and must not repeat.
   */
  setRows(dst: Tensor, src: Tensor, idx: Tensor): Tensor {
    const op = 'setRows';
    if (idx.dtype !== 'i32' || idx.ne[1] * idx.ne[2] * idx.ne[3] !== 1) fail(op, 'indices must be an i32 vector');
    if (dst.ne[0] !== src.ne[0] || dst.ne[2] * dst.ne[3] !== 1 || src.ne[2] * src.ne[3] !== 1)
      fail(op, `rows of ${src.shapeText} do not fit ${dst.shapeText}`);
    if (src.ne[1] !== idx.ne[0]) fail(op, `${src.ne[1]} rows but ${idx.ne[0]} indices`);
    if (src.dtype !== 'f32' || dst.dtype !== 'f32' || !src.isContiguous || !dst.isContiguous)
      fail(op, 'needs contiguous f32 tensors');
    return this.wrap(
      op,
      [dst, src, idx],
      () => ggml.set_rows(this.ctx.ptr, dst.ptr, src.ptr, idx.ptr),
      dst.dtype,
      dst.ne,
      dst.nb,
    );
  }

  /** In-place AdamW on w (see optimizer.ts for the 7-float params layout). */
  adamwStep(w: Tensor, grad: Tensor, m: Tensor, v: Tensor, params: Tensor): Tensor {
    if (!w.isParam) fail('adamwStep', `${w.describe()} is not marked as a parameter (markParam())`);
    for (const t of [grad, m, v]) {
      if (t.ne.some((n, i) => n !== w.ne[i]) || t.dtype !== 'f32')
        fail('adamwStep', `${t.describe()} does not match parameter ${w.describe()}`);
    }
    if (params.numel !== 7) fail('adamwStep', 'AdamW params tensor must hold 7 floats');
    return this.wrap(
      'adamwStep',
      [w, grad, m, v, params],
      () => ggml.opt_step_adamw(this.ctx.ptr, w.ptr, grad.ptr, m.ptr, v.ptr, params.ptr),
      'f32',
      w.ne,
    );
  }
}
