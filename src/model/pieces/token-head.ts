/**
 * Per-token heads on the final hidden states [dim, N], with their backward:
 * - the log-prob of each position's target token under softmax(logits / τ), and optionally the entropy
 *   H = −Σ p·log p of that distribution;
 * - a scalar value per token (the PPO critic's linear head on the same trunk).
 *
 * Bounded memory for large vocabularies: no [vocab × tokens] f32 tensor ever exists whole. The forward runs a chunk
 * of tokens at a time (softmax needs whole rows). Then either:
 * - (kept) when the probabilities of all tokens fit `keepBytes` in the compute precision, each chunk's p is kept for
 *   the backward, which needs one product per chunk (dh = Wᵀ·dz) instead of two: a third of the head's backward,
 *   the head being a third of a 0.5B model's flops;
 * - (recomputed) else only per-token numbers are kept: log p(target), H, and the log-normaliser
 *   lse = z_target/τ − log p(target). The backward recomputes the logits a chunk of the vocabulary at a time for
 *   all tokens, where p = exp(z/τ − lse) needs no softmax, and adds each chunk's weight gradient straight into its
 *   columns of the accumulator (no vocabulary-sized temporaries per chunk).
 * Chunks are expanded into the graph one after another, so the allocator reuses one chunk's memory for the next:
 * at most ~4 f32 tensors of VOCAB_CHUNK_ELEMENTS (256 MiB in all) at a time besides what is kept, whatever the batch
 * (Qwen's 151,936-token vocabulary × 1,280 tokens would otherwise be 778 MB per tensor).
 *
 * Gradient of the seam's terms with respect to the logits z (p = softmax(z/τ), g and e the coefficients):
 *   d(g·log p_t)/dz = g·(onehot_t − p)/τ        d(e·H)/dz = −e·p ⊙ (log p + H)/τ
 * The one-hot part is a gather (input gradient) and a scatter-add of g·h rows (weight gradient).
 * The log-prob is the log of the gathered probability (ggml-notes trap 3); 1e-30 keeps 0·log 0 = 0 in H.
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Ops } from '../../engine/ops.ts';
import type { Tape } from '../tape.ts';
import type { Projection } from './projection.ts';

/** Elements of one [vocab × tokens] chunk tensor: 2^24 floats = 64 MiB. */
export const VOCAB_CHUNK_ELEMENTS = 2 ** 24;
/** Bytes of probabilities a training pass keeps for its backward (beyond them the logits are recomputed): 512 MiB */
export const HEAD_KEEP_BYTES = 2 ** 29;

export interface HeadOptions {
  /** log-probs and entropy are of softmax(logits / temperature), the distribution sampling used */
  temperature: number;
  entropy: boolean;
  /** elements per chunk tensor (default VOCAB_CHUNK_ELEMENTS; tests make it small) */
  chunkElements?: number;
  /** keep the probabilities for the backward when they fit this many bytes (default 0: recompute the logits) */
  keepBytes?: number;
}

export interface HeadTargets {
  /** i32 [N]: the target token of each position (made on first use: only the backward reads it) */
  ids: () => Tensor;
  /** i32 [N]: for token n of the forward chunk starting at n0, (n − n0)·vocab + target_n (see flatTargets) */
  flat: Tensor;
}

export interface HeadOutputs {
  /** [1, N] log p(target) */
  logp: Tensor;
  /** [1, N] entropy of the next-token distribution */
  entropy?: Tensor;
}

/**
 * [start, count] chunks of `total` items, `per` items of `width` elements each fitting `elements`; sizes are
 * multiples of 32, as ggml's fast matmul kernels want for a contracted dimension.
 */
function chunks(total: number, width: number, elements: number): [number, number][] {
  const size = Math.min(total, 32 * Math.max(1, Math.floor(elements / width / 32)));
  const out: [number, number][] = [];
  for (let i = 0; i < total; i += size) out.push([i, Math.min(size, total - i)]);
  return out;
}

/** Token chunks of the forward (whole vocabulary rows). */
export function tokenChunks(N: number, vocab: number, elements = VOCAB_CHUNK_ELEMENTS): [number, number][] {
  return chunks(N, vocab, elements);
}

/** Vocabulary chunks of the backward (all tokens). */
export function vocabChunks(vocab: number, N: number, elements = VOCAB_CHUNK_ELEMENTS): [number, number][] {
  return chunks(vocab, N, elements);
}

/** What the head's forward and backward share. */
interface Head {
  tape: Tape;
  proj: Projection;
  lmHead: Tensor;
  /** [dim, N] */
  hidden: Tensor;
  /** temperature τ */
  tau: number;
  opts: HeadOptions;
}

/** The forward's per-token results, and what it keeps for the backward: probabilities, or log-normalisers. */
interface HeadForward extends HeadOutputs {
  chunks: [number, number][];
  /** the probabilities are kept for the backward (else it recomputes them from the log-normalisers) */
  keep: boolean;
  /** per token chunk, p [V, n] in the compute precision (kept), else empty */
  kept: Tensor[];
  /** [1, N] log-normalisers (recomputed), else null */
  lse: Tensor | null;
}

export function tokenLogProbs(
  tape: Tape,
  proj: Projection,
  lmHead: Tensor,
  hidden: Tensor,
  targets: HeadTargets,
  opts: HeadOptions,
): HeadOutputs {
  const h: Head = { tape, proj, lmHead, hidden, tau: opts.temperature, opts };
  const V = lmHead.ne[1],
    N = hidden.ne[1];
  const keep = tape.recording && V * N * (proj.copies.precision === 'f32' ? 4 : 2) <= (opts.keepBytes ?? 0);
  const fwd = headForward(h, targets.flat, keep);
  const { logp, entropy } = fwd;
  if (tape.recording)
    tape.record(entropy ? [logp, entropy] : [logp], [hidden], [lmHead], () => headBackward(h, fwd, targets));
  return { logp, entropy };
}

/** log p(target), entropy, and what the backward needs, a chunk of tokens at a time. */
function headForward({ tape, proj, lmHead, hidden, tau, opts }: Head, flat: Tensor, keep: boolean): HeadForward {
  const o = tape.o;
  const V = lmHead.ne[1],
    N = hidden.ne[1];
  const keepType = proj.copies.precision;
  const logpParts: Tensor[] = [],
    entropyParts: Tensor[] = [],
    lseParts: Tensor[] = [],
    kept: Tensor[] = [];
  const chunks = tokenChunks(N, V, opts.chunkElements);
  for (const [n0, n] of chunks) {
    const z = proj.productSlice(tape, lmHead, o.columns(hidden, n0, n), 0, V);
    const zs = tau === 1 ? z : o.scale(z, 1 / tau);
    const p = o.softmax(zs);
    const at = o.view(flat, [n, 1, 1, 1], [4 * n, 4 * n, 4 * n], 4 * n0);
    const logp = o.log(o.getRows(o.reshape(p, [1, V * n]), at));
    // expanded chunk by chunk, so each chunk's [vocab × n] tensors are dead before the next chunk's
    tape.graph.expand(logpParts[logpParts.push(logp) - 1]);
    if (opts.entropy)
      tape.graph.expand(
        entropyParts[entropyParts.push(o.scale(o.sumRows(o.mul(p, o.log(o.scaleBias(p, 1, 1e-30)))), -1)) - 1],
      );
    if (keep) tape.graph.expand(kept[kept.push(keepType === 'f32' ? p : o.cast(p, keepType)) - 1]);
    else if (tape.recording)
      tape.graph.expand(lseParts[lseParts.push(o.sub(o.getRows(o.reshape(zs, [1, V * n]), at), logp)) - 1]);
  }
  const logp = o.concatAll(logpParts, 1);
  const entropy = opts.entropy ? o.concatAll(entropyParts, 1) : undefined;
  const lse = keep || !tape.recording ? null : o.concatAll(lseParts, 1);
  return { logp, entropy, chunks, keep, kept, lse };
}

/** The coefficients of the head's outputs in the backward: g of log p, e of H (null: not needed). */
interface HeadCoefficients {
  g: Tensor | null;
  e: Tensor | null;
  /** the entropy H itself, which dz reads where e is given */
  entropy: Tensor | null;
}

/** dz = −p ⊙ (g + e ⊙ (log p + H)) / τ, without the one-hot part; `logp` builds log p where e needs it. */
function dLogits(o: Ops, tau: number, p: Tensor, logp: () => Tensor, c: HeadCoefficients): Tensor {
  const { g, e, entropy } = c;
  const inner = e ? (g ? o.add(o.mul(o.add(logp(), entropy!), e), g) : o.mul(o.add(logp(), entropy!), e)) : g!;
  return o.scale(o.mul(p, inner), -1 / tau);
}

/** The head's backward: gradients of the head weight and the hidden states, from the kept or recomputed p. */
function headBackward(h: Head, fwd: HeadForward, targets: HeadTargets): void {
  const { tape, lmHead, hidden, tau } = h;
  const o = tape.o;
  const g = tape.grad(fwd.logp),
    e = fwd.entropy ? tape.grad(fwd.entropy) : null;
  if (!g && !e) return;
  let dHidden: Tensor | null = null;
  const addHidden = (d: Tensor) => {
    dHidden = dHidden ? o.add(dHidden, d) : d;
    tape.graph.expand(dHidden);
  };
  const coef: HeadCoefficients = { g, e, entropy: fwd.entropy ?? null };
  if (fwd.keep) keptBackward(h, fwd, coef, addHidden);
  else recomputedBackward(h, fwd.lse!, coef, addHidden);
  if (g) {
    // the one-hot part, g/τ at each token's target: rows of W gathered, and g·h rows added into W's columns
    const gt = tau === 1 ? g : o.scale(g, 1 / tau);
    if (tape.needs(hidden)) addHidden(o.mul(o.getRows(lmHead, targets.ids()), gt));
    if (tape.wants(lmHead)) tape.addParamGrad(lmHead, o.getRowsBack(o.mul(hidden, gt), targets.ids(), lmHead));
  }
  if (dHidden) tape.addGrad(hidden, dHidden);
}

/** Kept p: one product per token chunk for the hidden states' gradient, one for the weight's. */
function keptBackward(h: Head, fwd: HeadForward, coef: HeadCoefficients, addHidden: (d: Tensor) => void): void {
  const { tape, proj, lmHead, hidden, tau } = h;
  const o = tape.o;
  const dParts: Tensor[] = [];
  const columns = (t: Tensor | null, n0: number, n: number) => (t ? o.columns(t, n0, n) : null);
  fwd.chunks.forEach(([n0, n], i) => {
    const p = proj.copies.precision === 'f32' ? fwd.kept[i] : o.cast(fwd.kept[i], 'f32');
    const chunk = { g: columns(coef.g, n0, n), e: columns(coef.e, n0, n), entropy: columns(coef.entropy, n0, n) };
    const dz = dLogits(o, tau, p, () => o.log(o.scaleBias(p, 1, 1e-30)), chunk); // [V, n]
    if (tape.wants(lmHead)) tape.addParamGrad(lmHead, proj.weightGradient(tape, o.columns(hidden, n0, n), dz));
    if (tape.needs(hidden)) tape.graph.expand(dParts[dParts.push(proj.inputGradient(tape, lmHead, dz)) - 1]);
  });
  if (dParts.length) addHidden(o.concatAll(dParts, 1));
}

/** Recomputed p = exp(z/τ − lse), a chunk of the vocabulary at a time for all tokens. */
function recomputedBackward(h: Head, lse: Tensor, coef: HeadCoefficients, addHidden: (d: Tensor) => void): void {
  const { tape, proj, lmHead, hidden, tau } = h;
  const o = tape.o;
  for (const [v0, n] of vocabChunks(lmHead.ne[1], hidden.ne[1], h.opts.chunkElements)) {
    const z = proj.productSlice(tape, lmHead, hidden, v0, n); // [n, N]
    const s = o.sub(tau === 1 ? z : o.scale(z, 1 / tau), lse); // log p
    const dz = dLogits(o, tau, o.exp(s), () => s, coef);
    if (tape.wants(lmHead)) tape.addParamGrad(lmHead, proj.weightGradient(tape, hidden, dz), v0);
    if (tape.needs(hidden)) addHidden(proj.inputGradientSlice(tape, lmHead, dz, v0));
  }
}

/** Targets [N] → the chunk-local flat indices of HeadTargets.flat. */
export function flatTargets(targets: Int32Array, vocab: number, elements = VOCAB_CHUNK_ELEMENTS): Int32Array {
  const flat = new Int32Array(targets.length);
  for (const [n0, n] of tokenChunks(targets.length, vocab, elements))
    for (let i = 0; i < n; i++) flat[n0 + i] = i * vocab + targets[n0 + i];
  return flat;
}

/** Value per token [1, N] from a value head of ggml shape [dim, 1]; backward: dv = Σ_n g_n·h_n, dh = v ⊗ g. */
export function tokenValues(tape: Tape, valueHead: Tensor, hidden: Tensor): Tensor {
  const o = tape.o;
  const values = o.matmul(valueHead, hidden);
  tape.record(values, [hidden], [valueHead], () => {
    const g = tape.grad(values);
    if (!g) return;
    if (tape.wants(valueHead)) tape.addParamGrad(valueHead, o.sumTo(o.mul(hidden, g), valueHead));
    if (tape.needs(hidden)) tape.addGrad(hidden, o.matmul(o.reshape(valueHead, [1, valueHead.ne[0]]), g));
  });
  return values;
}
