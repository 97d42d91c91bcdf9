/**
 * Ops that move elements without arithmetic: reshapes and strided views, permutations, copies and conversions,
 * joins, and rows gathered or scattered by index.
 */
import { ggml } from '../ffi.ts';
import { type Tensor, DTYPE_BYTES, BLOCK_ELEMENTS, GGML_TYPE, contiguousStrides, rowBytes } from '../tensor.ts';
import { OpCall, fail, isFloat, isMatrixType, type Ne } from './op-call.ts';

export class LayoutOps extends OpCall {
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

  /** Join tensors along `dim` as a balanced tree of concats (each element is copied log₂(parts) times). */
  concatAll(parts: Tensor[], dim: number): Tensor {
    let level = parts;
    while (level.length > 1) {
      const next: Tensor[] = [];
      for (let i = 0; i < level.length; i += 2)
        next.push(i + 1 < level.length ? this.concat(level[i], level[i + 1], dim) : level[i]);
      level = next;
    }
    return level[0];
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
}
