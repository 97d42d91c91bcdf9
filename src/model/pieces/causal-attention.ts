/**
 * Causal self-attention over a padded batch (B sequences × T positions, N = B·T tokens), with its backward.
 *
 * Grouped-query attention without repeating keys: the rep = H/Hkv query heads that share a kv head (HF repeat_kv:
 * kv head j serves query heads j·rep … j·rep+rep−1) are stacked as extra query rows of that kv head. With q laid
 * out [hd, T, H, B], the rows of kv head j of sequence b are exactly the contiguous block [hd, T·rep] at slot
 * j + Hkv·b, so every product is one batched mul_mat over Hkv·B slots, and the key/value gradients sum over the
 * group's queries inside that mul_mat.
 *
 *   S = Kᵀ·Q [T, T·rep, Hkv·B]   P = softmax(S/√hd + causal mask)   O = V·P [hd, T·rep, Hkv·B]
 *   dP = mul_mat(V, dO)           dV = mul_mat(dOᵀ, Pᵀ)   dS = P ⊙ (dP − Σ_row P⊙dP) / √hd
 *   dQ = mul_mat(Kᵀ, dS)          dK = mul_mat(Qᵀ, dSᵀ)
 * dS is built from elementwise ops rather than ggml's softmax_back kernel, which overwrites its result before it
 * has read all of P (ggml-notes trap 1): P would have to be kept from the allocator as a graph output, which pins
 * every layer's P in memory and defeats recomputation.
 *
 * Right padding needs no padding mask: with a causal mask a real token never attends to a later pad token, and
 * outputs at pad positions are ignored by the caller.
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';
import type { LlamaConfig } from '../config.ts';

export interface BatchLayout {
  /** sequences */
  B: number;
  /** padded positions per sequence */
  T: number;
  /** f32 [T, T] additive causal mask: 0 where key ≤ query, −inf above */
  mask: Tensor;
}

/** q [hd, H, N], k [hd, Hkv, N] (after RoPE), v [hd·Hkv, N] → attention output [hd·H, N]. */
export function causalAttention(tape: Tape, q: Tensor, k: Tensor, v: Tensor, layout: BatchLayout, c: LlamaConfig): Tensor {
  const o = tape.o;
  const { B, T, mask } = layout;
  const hd = c.headDim, H = c.nHeads, Hkv = c.nKvHeads, rep = H / Hkv, N = B * T, S = Hkv * B;
  const scale = 1 / Math.sqrt(hd);
  // [hd, X, T, B] → [hd, T, X, B]: one sequence's positions contiguous per head
  const byPosition = (t: Tensor, heads: number) => o.cont(o.permute(o.reshape(t, [hd, heads, T, B]), [0, 2, 1, 3]));
  const qh = o.reshape(byPosition(q, H), [hd, T * rep, S]);
  const kh = o.reshape(byPosition(k, Hkv), [hd, T, S]);
  const vt = o.reshape(o.cont(o.permute(o.reshape(v, [hd, Hkv, T, B]), [1, 2, 0, 3])), [T, hd, S]);
  const probs = o.softmaxMasked(o.reshape(o.matmul(kh, qh), [T, T, rep, S]), mask, scale);
  const ctx = o.matmul(vt, o.reshape(probs, [T, T * rep, S])); // [hd, T·rep, S] = [hd, T, H, B]
  const out = o.reshape(o.cont(o.permute(o.reshape(ctx, [hd, T, H, B]), [0, 2, 1, 3])), [hd * H, N]);

  tape.record(out, [q, k, v], [], () => {
    const dout = tape.grad(out);
    if (!dout) return;
    const dctx = o.reshape(byPosition(dout, H), [hd, T * rep, S]);
    const p = o.reshape(probs, [T, T * rep, S]);
    // back from [hd, T, X, B] to the projections' [hd·X, N]
    const byHead = (t: Tensor, heads: number) => o.reshape(o.cont(o.permute(o.reshape(t, [hd, T, heads, B]), [0, 2, 1, 3])), [hd * heads, N]);
    if (tape.needs(v)) {
      const dvh = o.matmul(o.cont(o.transpose(dctx)), o.cont(o.transpose(p))); // [hd, T, S]
      tape.addGrad(v, byHead(dvh, Hkv));
    }
    if (!tape.needs(q) && !tape.needs(k)) return;
    const vh = o.reshape(byPosition(v, Hkv), [hd, T, S]);
    const dprobs = o.matmul(vh, dctx); // [T, T·rep, S]
    const dscores = o.scale(o.mul(p, o.sub(dprobs, o.sumRows(o.mul(p, dprobs)))), scale);
    if (tape.needs(q)) tape.addGrad(q, o.reshape(byHead(o.matmul(o.cont(o.transpose(kh)), dscores), H), [hd, H, N]));
    if (tape.needs(k)) tape.addGrad(k, o.reshape(byHead(o.matmul(o.cont(o.transpose(qh)), o.cont(o.transpose(dscores))), Hkv), [hd, Hkv, N]));
  });
  return out;
}

/** Additive causal mask for T positions, row = query: mask[q·T + k] = 0 if k ≤ q else −inf. */
export function causalMask(T: number): Float32Array {
  const m = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) m[q * T + k] = -Infinity;
  return m;
}
