/**
 * The projection hook: the one place where a weight matrix multiplies activations,
 *   y = W·x (+ b) (+ s·B·A·dropout(x) where W has a LoRA adapter).
 * Precision plugs in here (the forward reads W's BF16 copy, or a frozen bf16 / q8_0 base as it is), and so do
 * LoRA adapters. Its backward is mul_mats only, never ggml's out_prod:
 *   dX = Wᵀ·dY (+ Aᵀ·dU)  — the transposed copy of W (weight-copies.ts) times dY
 *   dW = (Xᵀ)ᵀ·(dYᵀ)      — both operands transposed to token-major rows, cast to the compute precision
 *   dB = s·(Uᵀ)ᵀ·(dYᵀ),  dU = s·Bᵀ·dY,  dA = (Xᵀ)ᵀ·(dUᵀ)   (U = A·x, the adapter's rank-r activations)
 *   db = Σ_tokens dY
 * Frozen weights get no gradient; a frozen base with adapters gets only dX.
 * A decoding step's projections are `decoding` products: batch-invariant in f32 (../batch-invariance.ts).
 */
import { rowBytes, type Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';
import type { WeightCopies } from '../weight-copies.ts';
import type { LoraAdapters } from '../lora.ts';
import { decodingProduct } from '../batch-invariance.ts';

/** Dropout on an adapter's input: a fresh mask shaped like x, holding 0 or 1/(1 − p). */
export type DropoutMask = (x: Tensor) => Tensor;

export class Projection {
  /** token-major copies of activations, shared by the weight gradients that read the same tensor */
  private readonly tokenMajor = new Map<bigint, Tensor>();

  constructor(
    readonly copies: WeightCopies,
    private readonly lora: LoraAdapters | null = null,
    private readonly dropoutMask: DropoutMask | null = null,
    /** forward only, a KV-cache decoding step: products that sum each column as a lone column is */
    private readonly decoding = false,
  ) {}

  private product(tape: Tape, w: Tensor, x: Tensor): Tensor {
    return this.decoding ? decodingProduct(tape.o, w, x) : tape.o.matmul(w, x);
  }

  /** y = W·x (+ b) (+ adapter), x [in, N] → [out, N], with its backward recorded on the tape. */
  apply(tape: Tape, x: Tensor, w: Tensor, bias?: Tensor): Tensor {
    const o = tape.o;
    const product = this.product(tape, this.copies.forward(w), x);
    const base = bias ? o.add(product, bias) : product;
    const adapter = this.lora?.of(w);
    if (!adapter) {
      tape.record(base, [x], [w, bias], () => {
        const dy = tape.grad(base);
        if (dy) this.baseBackward(tape, x, w, bias, dy);
      });
      return base;
    }
    const s = this.lora!.scale;
    const mask = this.dropoutMask?.(x);
    const xd = mask ? o.mul(x, mask) : x;
    const u = this.product(tape, adapter.a, xd); // [r, N]
    const y = o.add(base, o.scale(this.product(tape, adapter.b, u), s));
    tape.record(y, [x], [w, bias, adapter.a, adapter.b], () => {
      const dy = tape.grad(y);
      if (!dy) return;
      this.baseBackward(tape, x, w, bias, dy);
      if (tape.wants(adapter.b)) tape.addParamGrad(adapter.b, o.scale(this.weightGradient(tape, u, dy), s));
      if (!tape.wants(adapter.a) && !tape.needs(x)) return;
      const du = o.scale(o.matmul(o.cont(o.transpose(adapter.b)), dy), s); // [r, N]
      if (tape.wants(adapter.a)) tape.addParamGrad(adapter.a, this.weightGradient(tape, xd, du));
      if (tape.needs(x)) {
        const dxd = o.matmul(o.cont(o.transpose(adapter.a)), du);
        tape.addGrad(x, mask ? o.mul(dxd, mask) : dxd);
      }
    });
    return y;
  }

  /** The base's part of the backward: bias and weight gradients where trained, and Wᵀ·dY. */
  private baseBackward(tape: Tape, x: Tensor, w: Tensor, bias: Tensor | undefined, dy: Tensor): void {
    if (bias && tape.wants(bias)) tape.addParamGrad(bias, tape.o.sumTo(dy, bias));
    if (tape.wants(w)) tape.addParamGrad(w, this.weightGradient(tape, x, dy));
    if (tape.needs(x)) tape.addGrad(x, this.inputGradient(tape, w, dy));
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
    const t = this.copies.transposed(w),
      n = dy.ne[0];
    // rows of the transposed copy are W's output features: a strided view of n of them per input feature
    return tape.o.matmul(
      tape.o.view(t, [n, t.ne[1], 1, 1], [t.nb[1], t.nb[1] * t.ne[1], t.nb[1] * t.ne[1]], rowBytes(t.dtype, from)),
      dy,
    );
  }

  /** dW [in, out] = Σ_n x_n ⊗ dy_n, as one mul_mat over token-major rows */
  weightGradient(tape: Tape, x: Tensor, dy: Tensor): Tensor {
    return tape.o.matmul(this.tokenMajorOf(tape, x), this.tokenMajorOf(tape, dy));
  }

  private tokenMajorOf(tape: Tape, t: Tensor): Tensor {
    let tm = this.tokenMajor.get(t.ptr);
    if (!tm) this.tokenMajor.set(t.ptr, (tm = tape.o.cast(tape.o.transpose(t), this.copies.precision)));
    return tm;
  }
}
