/**
 * Self-attention over a packed batch (../packing.ts), with its backward. Queries, keys and values are projected for
 * the flat tokens [·, N]; attention gathers them into blocks — per family, `rows` blocks of Cq query slots over Ck key
 * slots — computes each family as one batched product, and gathers every flat token's output back from its slot.
 *
 * Grouped-query attention without repeating keys: the rep = H/Hkv query heads that share a kv head (HF repeat_kv:
 * kv head j serves query heads j·rep … j·rep+rep−1) are stacked as extra query rows of that kv head. With a block's
 * queries laid out [hd, Cq, H, R], the rows of kv head j of block r are exactly the contiguous block [hd, Cq·rep] at
 * slot (j, r), so every product is one batched mul_mat, and the key/value gradients sum over the group's queries inside
 * it; the scores, seen as [Ck, Cq, H, R], take the block's mask [Ck, Cq, 1, R] broadcast over heads.
 *
 *   S = Kᵀ·Q [Ck, Cq·rep, Hkv, R]   P = softmax(S/√hd + mask)   O = V·P [hd, Cq·rep, Hkv, R]
 *   dP = mul_mat(V, dO)              dV = mul_mat(dOᵀ, Pᵀ)   dS = P ⊙ (dP − Σ_row P⊙dP) / √hd
 *   dQ = mul_mat(Kᵀ, dS)             dK = mul_mat(Qᵀ, dSᵀ)
 * The gathers' gradients are scatter-adds (ggml get_rows_back): a prompt's keys, read by the blocks of every
 * completion of its group, collect all their gradients; padding slots read token 0 and give it exactly zero (a
 * padding key is masked, so P is 0 there; a padding query sees one key, so its softmax stays finite, and its output is
 * never gathered, so dO is 0 there).
 * dS is built from elementwise ops rather than ggml's softmax_back kernel, which overwrites its result before it
 * has read all of P (ggml-notes trap 1): P would have to be kept from the allocator as a graph output, which pins
 * every layer's P in memory and defeats recomputation.
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Ops } from '../../engine/ops.ts';
import type { Tape } from '../tape.ts';
import type { LlamaConfig } from '../config.ts';
import type { AttentionFamily } from '../packing.ts';

/** The graph inputs describing a packed batch's attention (see PackedBatch). */
export interface PackedLayout {
  families: AttentionFamily[];
  /** i32 [all families' rows × queries] */
  queryIndex: Tensor;
  /** i32 [all families' rows × keys] */
  keyIndex: Tensor;
  /** i32 [N] */
  outIndex: Tensor;
  /** per family, f32 [keys, queries, 1, rows] */
  masks: Tensor[];
}

/** q [hd, H, N], k [hd, Hkv, N] (after RoPE), v [hd·Hkv, N] → attention output [hd·H, N]. */
export function packedAttention(
  tape: Tape,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  layout: PackedLayout,
  c: LlamaConfig,
): Tensor {
  const o = tape.o;
  const hd = c.headDim,
    H = c.nHeads,
    Hkv = c.nKvHeads,
    rep = H / Hkv,
    N = q.ne[2];
  const scale = 1 / Math.sqrt(hd);
  const qFlat = o.reshape(q, [hd * H, N]),
    kFlat = o.reshape(k, [hd * Hkv, N]);
  // token-major [hd·X, R·C] → [hd, C, X, R]: one block's positions contiguous per head
  const byPosition = (t: Tensor, X: number, C: number, R: number) =>
    o.cont(o.permute(o.reshape(t, [hd, X, C, R]), [0, 2, 1, 3]));
  // and back: [hd, C, X, R] → [hd·X, R·C]
  const byHead = (t: Tensor, X: number, C: number, R: number) =>
    o.reshape(o.cont(o.permute(o.reshape(t, [hd, C, X, R]), [0, 2, 1, 3])), [hd * X, R * C]);
  // one gather per layer for all families (each family reads its columns): few temporaries between kept tensors
  const qAll = o.getRows(qFlat, layout.queryIndex); // [hd·H, Σ R·Cq]
  const kAll = o.getRows(kFlat, layout.keyIndex); // [hd·Hkv, Σ R·Ck]
  const vAll = o.getRows(v, layout.keyIndex);
  let q0 = 0,
    k0 = 0;
  const parts = layout.families.map((f, i) => {
    const { rows: R, queries: Cq, keys: Ck } = f;
    const qh = o.reshape(byPosition(o.columns(qAll, q0, R * Cq), H, Cq, R), [hd, Cq * rep, Hkv, R]);
    const kh = byPosition(o.columns(kAll, k0, R * Ck), Hkv, Ck, R); // [hd, Ck, Hkv, R]
    const vr = o.columns(vAll, k0, R * Ck); // [hd·Hkv, R·Ck]
    q0 += R * Cq;
    k0 += R * Ck;
    const vt = o.cont(o.permute(o.reshape(vr, [hd, Hkv, Ck, R]), [1, 2, 0, 3])); // [Ck, hd, Hkv, R]
    const scores = o.reshape(o.matmul(kh, qh), [Ck, Cq, H, R]);
    const probs = o.reshape(o.softmaxMasked(scores, layout.masks[i], scale), [Ck, Cq * rep, Hkv, R]);
    const ctx = o.matmul(vt, probs); // [hd, Cq·rep, Hkv, R] = [hd, Cq, H, R]
    return { f, qh, kh, vr, probs, out: byHead(ctx, H, Cq, R) };
  });
  const outAll = concatColumns(
    o,
    parts.map((p) => p.out),
  );
  const out = o.getRows(outAll, layout.outIndex); // [hd·H, N]

  tape.record(out, [q, k, v], [], () => {
    const dout = tape.grad(out);
    if (!dout) return;
    const doutAll = o.getRowsBack(dout.isContiguous ? dout : o.cont(dout), layout.outIndex, outAll);
    const dq: Tensor[] = [],
      dk: Tensor[] = [],
      dv: Tensor[] = [];
    let col = 0;
    for (const { f, qh, kh, vr, probs } of parts) {
      const { rows: R, queries: Cq, keys: Ck } = f;
      const dctx = o.reshape(byPosition(o.columns(doutAll, col, R * Cq), H, Cq, R), [hd, Cq * rep, Hkv, R]);
      col += R * Cq;
      if (tape.needs(v)) dv.push(byHead(o.matmul(o.cont(o.transpose(dctx)), o.cont(o.transpose(probs))), Hkv, Ck, R)); // [hd, Ck, Hkv, R]
      if (!tape.needs(q) && !tape.needs(k)) continue;
      const vh = byPosition(vr, Hkv, Ck, R); // [hd, Ck, Hkv, R]
      const dprobs = o.matmul(vh, dctx); // [Ck, Cq·rep, Hkv, R]
      const dscores = o.scale(o.mul(probs, o.sub(dprobs, o.sumRows(o.mul(probs, dprobs)))), scale);
      if (tape.needs(q)) dq.push(byHead(o.matmul(o.cont(o.transpose(kh)), dscores), H, Cq, R));
      if (tape.needs(k)) dk.push(byHead(o.matmul(o.cont(o.transpose(qh)), o.cont(o.transpose(dscores))), Hkv, Ck, R));
    }
    // scatter-add every slot's gradient onto its flat token (ggml get_rows_back sums repeated indices)
    if (dv.length) tape.addGrad(v, o.getRowsBack(concatColumns(o, dv), layout.keyIndex, v));
    if (dq.length)
      tape.addGrad(q, o.reshape(o.getRowsBack(concatColumns(o, dq), layout.queryIndex, qFlat), [hd, H, N]));
    if (dk.length)
      tape.addGrad(k, o.reshape(o.getRowsBack(concatColumns(o, dk), layout.keyIndex, kFlat), [hd, Hkv, N]));
  });
  return out;
}

/** Matrices [E, n_i] side by side → [E, Σ n_i], as a balanced tree of concats. */
function concatColumns(o: Ops, parts: Tensor[]): Tensor {
  let level = parts;
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? o.concat(level[i], level[i + 1], 1) : level[i]);
    level = next;
  }
  return level[0];
}
