/**
 * The projection hook: the one place where a weight matrix multiplies activations, y = W·x (+ b). Precision
 * plugs in here (the forward reads W's BF16 copy in bf16 precision), and so will LoRA adapters and quantised
 * bases. Its backward is two mul_mats, never ggml's out_prod:
 *   dX = Wᵀ·dY         — the transposed copy of W (weight-copies.ts) times dY
 *   dW = (Xᵀ)ᵀ·(dYᵀ)   — both operands transposed to token-major rows, cast to the compute precision
 *   db = Σ_tokens dY
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';
import type { WeightCopies } from '../weight-copies.ts';

export class Projection {
  /** token-major copies of activations, shared by the weight gradients of projections that read the same x */
  private readonly tokenMajor = new Map<bigint, Tensor>();

  constructor(readonly copies: WeightCopies) {}

  /** y = W·x (+ b), x [in, N] → [out, N], with its backward recorded on the tape. */
  apply(tape: Tape, x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    const o = tape.o;
    const product = o.matmul(this.copies.forward(w), x);
    const y = bias ? o.add(product, bias) : product;
    tape.record(y, [x], [w, bias], () => {
      const dy = tape.grad(y);
      if (!dy) return;
      if (bias && tape.wants(bias)) tape.addParamGrad(bias, o.sumTo(dy, bias));
      if (tape.wants(w)) tape.addParamGrad(w, this.weightGradient(tape, x, dy));
      if (tape.needs(x)) tape.addGrad(x, this.inputGradient(tape, w, dy));
    });
    return y;
  }

  /** dX = Wᵀ·dY [in, N] */
  inputGradient(tape: Tape, w: Tensor, dy: Tensor): Tensor {
    return tape.o.matmul(this.copies.transposed(w), dy);
  }

  /** Output features [from, from + n) of W·x, [n, N] (no backward recorded: the caller owns it). */
  productSlice(tape: Tape, w: Tensor, x: Tensor, from: number, n: number): Tensor {
    return tape.o.matmul(tape.o.columns(this.copies.forward(w), from, n), x);
  }

  /** The input gradient through output features [from, from + dy.ne[0]) of W only. */
  inputGradientSlice(tape: Tape, w: Tensor, dy: Tensor, from: number): Tensor {
    const t = this.copies.transposed(w), n = dy.ne[0];
    // rows of the transposed copy are W's output features: a strided view of n of them per input feature
    return tape.o.matmul(tape.o.view(t, [n, t.ne[1], 1, 1], [t.nb[1], t.nb[1] * t.ne[1], t.nb[1] * t.ne[1]], from * t.nb[0]), dy);
  }

  /** dW [in, out] = Σ_n x_n ⊗ dy_n, as one mul_mat over token-major rows */
  weightGradient(tape: Tape, x: Tensor, dy: Tensor): Tensor {
    const o = tape.o, p = this.copies.precision;
    let xt = this.tokenMajor.get(x.ptr);
    if (!xt) this.tokenMajor.set(x.ptr, (xt = o.cast(o.transpose(x), p)));
    return o.matmul(xt, o.cast(o.transpose(dy), p));
  }
}
