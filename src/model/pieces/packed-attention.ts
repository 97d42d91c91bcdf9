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
import type { ComputeGraph } from '../../engine/graph.ts';
import type { Tape } from '../tape.ts';
import type { LlamaConfig } from '../config.ts';
import type { AttentionFamily, PackedBatch } from '../packing.ts';

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

/** The layout inputs of a graph over N flat tokens in these attention families. */
export function packedLayoutInputs(g: ComputeGraph, families: AttentionFamily[], N: number): PackedLayout {
  const slots = (per: (f: AttentionFamily) => number) => families.reduce((n, f) => n + f.rows * per(f), 0);
  return {
    families,
    queryIndex: g.input('i32', [slots((f) => f.queries)], 'query_index'),
    keyIndex: g.input('i32', [slots((f) => f.keys)], 'key_index'),
    outIndex: g.input('i32', [N], 'out_index'),
    masks: families.map((f, i) => g.input('f32', [f.keys, f.queries, 1, f.rows], `attention_mask_${i}`)),
  };
}

/** Upload the attention layout of a packed batch of the layout's shape. */
export function writePackedLayout(layout: PackedLayout, p: PackedBatch): void {
  layout.queryIndex.write(p.queryIndex);
  layout.keyIndex.write(p.keyIndex);
  layout.outIndex.write(p.outIndex);
  layout.masks.forEach((m, i) => m.write(p.masks[i]));
}

/** The head counts attention works with. */
interface Heads {
  o: Ops;
  hd: number;
  H: number;
  Hkv: number;
  /** query heads per kv head */
  rep: number;
  /** 1/√hd */
  scale: number;
}

/** token-major [hd·X, R·C] → [hd, C, X, R]: one block's positions contiguous per head */
function byPosition({ o, hd }: Heads, t: Tensor, X: number, C: number, R: number): Tensor {
  return o.cont(o.permute(o.reshape(t, [hd, X, C, R]), [0, 2, 1, 3]));
}

/** [hd, C, X, R] → [hd·X, R·C], the inverse of byPosition */
function byHead({ o, hd }: Heads, t: Tensor, X: number, C: number, R: number): Tensor {
  return o.reshape(o.cont(o.permute(o.reshape(t, [hd, C, X, R]), [0, 2, 1, 3])), [hd * X, R * C]);
}

/** Queries, keys and values: as projected, or gathered into the slots of all families side by side. */
interface Qkv {
  q: Tensor;
  k: Tensor;
  v: Tensor;
}

/** One family's attention, with what its backward reads. */
interface FamilyPass {
  f: AttentionFamily;
  /** queries [hd, Cq·rep, Hkv, R] */
  qh: Tensor;
  /** keys [hd, Ck, Hkv, R] */
  kh: Tensor;
  /** values [hd·Hkv, R·Ck] */
  vr: Tensor;
  /** [Ck, Cq·rep, Hkv, R] */
  probs: Tensor;
  /** [hd·H, R·Cq] */
  out: Tensor;
}

/** The family's blocks as one batched product, its queries and keys from columns q0 and k0 of the gathered slots. */
function familyAttention(h: Heads, f: AttentionFamily, mask: Tensor, all: Qkv, q0: number, k0: number): FamilyPass {
  const { o, hd, H, Hkv, rep } = h;
  const { rows: R, queries: Cq, keys: Ck } = f;
  const qh = o.reshape(byPosition(h, o.columns(all.q, q0, R * Cq), H, Cq, R), [hd, Cq * rep, Hkv, R]);
  const kh = byPosition(h, o.columns(all.k, k0, R * Ck), Hkv, Ck, R); // [hd, Ck, Hkv, R]
  const vr = o.columns(all.v, k0, R * Ck); // [hd·Hkv, R·Ck]
  const vt = o.cont(o.permute(o.reshape(vr, [hd, Hkv, Ck, R]), [1, 2, 0, 3])); // [Ck, hd, Hkv, R]
  const scores = o.reshape(o.matmul(kh, qh), [Ck, Cq, H, R]);
  const probs = o.reshape(o.softmaxMasked(scores, mask, h.scale), [Ck, Cq * rep, Hkv, R]);
  const ctx = o.matmul(vt, probs); // [hd, Cq·rep, Hkv, R] = [hd, Cq, H, R]
  return { f, qh, kh, vr, probs, out: byHead(h, ctx, H, Cq, R) };
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
  const h: Heads = {
    o,
    hd: c.headDim,
    H: c.nHeads,
    Hkv: c.nKvHeads,
    rep: c.nHeads / c.nKvHeads,
    scale: 1 / Math.sqrt(c.headDim),
  };
  const N = q.ne[2];
  const qFlat = o.reshape(q, [h.hd * h.H, N]),
    kFlat = o.reshape(k, [h.hd * h.Hkv, N]);
  // one gather per layer for all families (each family reads its columns): few temporaries between kept tensors
  const all: Qkv = {
    q: o.getRows(qFlat, layout.queryIndex), // [hd·H, Σ R·Cq]
    k: o.getRows(kFlat, layout.keyIndex), // [hd·Hkv, Σ R·Ck]
    v: o.getRows(v, layout.keyIndex),
  };
  let q0 = 0,
    k0 = 0;
  const parts = layout.families.map((f, i) => {
    const part = familyAttention(h, f, layout.masks[i], all, q0, k0);
    q0 += f.rows * f.queries;
    k0 += f.rows * f.keys;
    return part;
  });
  const outAll = o.concatAll(
    parts.map((p) => p.out),
    1,
  );
  const out = o.getRows(outAll, layout.outIndex); // [hd·H, N]
  tape.record(out, [q, k, v], [], () => {
    const dout = tape.grad(out);
    if (!dout) return;
    const doutAll = o.getRowsBack(dout.isContiguous ? dout : o.cont(dout), layout.outIndex, outAll);
    const d = attentionGradients(tape, h, parts, doutAll, { q, k, v });
    // scatter-add every slot's gradient onto its flat token (ggml get_rows_back sums repeated indices)
    if (d.v.length) tape.addGrad(v, o.getRowsBack(o.concatAll(d.v, 1), layout.keyIndex, v));
    if (d.q.length)
      tape.addGrad(q, o.reshape(o.getRowsBack(o.concatAll(d.q, 1), layout.queryIndex, qFlat), [h.hd, h.H, N]));
    if (d.k.length)
      tape.addGrad(k, o.reshape(o.getRowsBack(o.concatAll(d.k, 1), layout.keyIndex, kFlat), [h.hd, h.Hkv, N]));
  });
  return out;
}

/**
 * Per family, the gradients of its query, key and value slots (token-major, as gathered) given the gradient of all
 * families' outputs; only those something trainable needs.
 */
function attentionGradients(
  tape: Tape,
  h: Heads,
  parts: FamilyPass[],
  doutAll: Tensor,
  x: Qkv,
): { q: Tensor[]; k: Tensor[]; v: Tensor[] } {
  const { o, hd, H, Hkv, rep } = h;
  const d = { q: [] as Tensor[], k: [] as Tensor[], v: [] as Tensor[] };
  let col = 0;
  for (const { f, qh, kh, vr, probs } of parts) {
    const { rows: R, queries: Cq, keys: Ck } = f;
    const dctx = o.reshape(byPosition(h, o.columns(doutAll, col, R * Cq), H, Cq, R), [hd, Cq * rep, Hkv, R]);
    col += R * Cq;
    if (tape.needs(x.v))
      d.v.push(byHead(h, o.matmul(o.cont(o.transpose(dctx)), o.cont(o.transpose(probs))), Hkv, Ck, R)); // [hd, Ck, Hkv, R]
    if (!tape.needs(x.q) && !tape.needs(x.k)) continue;
    const vh = byPosition(h, vr, Hkv, Ck, R); // [hd, Ck, Hkv, R]
    const dprobs = o.matmul(vh, dctx); // [Ck, Cq·rep, Hkv, R]
    const dscores = o.scale(o.mul(probs, o.sub(dprobs, o.sumRows(o.mul(probs, dprobs)))), h.scale);
    if (tape.needs(x.q)) d.q.push(byHead(h, o.matmul(o.cont(o.transpose(kh)), dscores), H, Cq, R));
    if (tape.needs(x.k))
      d.k.push(byHead(h, o.matmul(o.cont(o.transpose(qh)), o.cont(o.transpose(dscores))), Hkv, Ck, R));
  }
  return d;
}
