/**
 * Shape-checked graph-building ops: `graph.ops` of a ComputeGraph. Each method validates in TypeScript exactly the
 * conditions ggml would assert (and abort the process on), checks that its operands' owners are still alive, then
 * calls ggml and returns a Tensor with the result's shape. Forward ops and the backward kernels the hand-written
 * backward needs (model/pieces/) are both here; nothing relies on ggml's autodiff.
 *
 * The ops come in families, one file each, every class adding its family to the one below:
 *   ops/op-call.ts         OpCall: the shape rules and the checked ggml call
 *   ops/layout-ops.ts      views, reshapes, copies, casts, joins, gathers and scatters of rows
 *   ops/arithmetic-ops.ts  matmul, elementwise and in-place arithmetic, sums
 *   ops.ts                 Ops: the network's kernels — activations, RMSNorm, softmax, RoPE, AdamW
 */
import { ggml } from './ffi.ts';
import type { Tensor } from './tensor.ts';
import { fail, sameShape, requireF32 } from './ops/op-call.ts';
import { ArithmeticOps } from './ops/arithmetic-ops.ts';

export const ROPE_NEOX = 2;

export class Ops extends ArithmeticOps {
  silu(a: Tensor): Tensor {
    requireF32('silu', a);
    return this.wrap('silu', [a], () => ggml.silu(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }

  /** silu(a) ⊙ b in one pass (a and b of one shape, rows contiguous) */
  swiglu(a: Tensor, b: Tensor): Tensor {
    const op = 'swiglu';
    requireF32(op, a);
    requireF32(op, b);
    if (!sameShape(a, b) || a.nb[0] !== 4 || b.nb[0] !== 4)
      fail(op, `needs two row-contiguous tensors of one shape, got ${a.shapeText}, ${b.shapeText}`);
    return this.wrap(op, [a, b], () => ggml.swiglu_split(this.ctx.ptr, a.ptr, b.ptr), 'f32', a.ne);
  }

  /** dy · silu'(x) */
  siluBack(dy: Tensor, x: Tensor): Tensor {
    const op = 'siluBack';
    requireF32(op, dy);
    requireF32(op, x);
    if (!sameShape(dy, x)) fail(op, `gradient ${dy.shapeText} does not match input ${x.shapeText}`);
    return this.wrap(op, [dy, x], () => ggml.silu_back(this.ctx.ptr, dy.ptr, x.ptr), 'f32', x.ne);
  }

  /** RMSNorm over ne0 (no weight: multiply by the gain separately) */
  rmsNorm(a: Tensor, eps: number): Tensor {
    requireF32('rmsNorm', a);
    if (a.nb[0] !== 4) fail('rmsNorm', `rows of ${a.shapeText} must be contiguous`);
    return this.wrap('rmsNorm', [a], () => ggml.rms_norm(this.ctx.ptr, a.ptr, eps), 'f32', a.ne);
  }

  /** Gradient of rmsNorm(x) given dy (both [E, ...], rows contiguous). */
  rmsNormBack(dy: Tensor, x: Tensor, eps: number): Tensor {
    const op = 'rmsNormBack';
    requireF32(op, dy);
    requireF32(op, x);
    if (!sameShape(dy, x) || !dy.isContiguous || !x.isContiguous)
      fail(op, `needs contiguous gradient and input of one shape, got ${dy.shapeText}, ${x.shapeText}`);
    return this.wrap(op, [dy, x], () => ggml.rms_norm_back(this.ctx.ptr, dy.ptr, x.ptr, eps), 'f32', x.ne);
  }

  /** softmax over ne0 */
  softmax(a: Tensor): Tensor {
    requireF32('softmax', a);
    return this.wrap('softmax', [a], () => ggml.soft_max(this.ctx.ptr, a.ptr), 'f32', a.ne);
  }

  /** softmax(scale·a + mask) over ne0; mask [ne0, ≥ne1] (f32), broadcast over dims 2–3. */
  softmaxMasked(a: Tensor, mask: Tensor | null, scale: number): Tensor {
    const op = 'softmaxMasked';
    requireF32(op, a);
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
    requireF32(op, a);
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
