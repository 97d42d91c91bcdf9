/**
 * Per-token heads on the final hidden states [dim, N], with their backward:
 * - the log-prob of each position's target token under softmax(logits / τ), and optionally the entropy
 *   H = −Σ p·log p of that distribution;
 * - a scalar value per token (the PPO critic's linear head on the same trunk).
 *
 * Bounded memory for large vocabularies: the [vocab × tokens] tensors (logits, probabilities, their gradient) exist
 * one chunk of tokens at a time, in the forward and again in the backward, which recomputes the chunk's logits
 * instead of keeping them alive between the two computes. Each chunk is expanded into the graph before the next,
 * so the allocator reuses one chunk's memory for the next: at most ~4 f32 tensors of VOCAB_CHUNK_ELEMENTS
 * (256 MiB in all) at a time, whatever the batch (Qwen's 151,936-token vocabulary × 1,280 tokens would otherwise
 * be 778 MB per tensor).
 *
 * Gradient of the seam's terms with respect to the logits z (p = softmax(z/τ), g and e the coefficients):
 *   d(g·log p_t)/dz = g·(onehot_t − p)/τ        d(e·H)/dz = −e·p ⊙ (log p + H)/τ
 * The log-prob is the log of the gathered probability (ggml-notes trap 3); 1e-30 keeps 0·log 0 = 0 in H.
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Ops } from '../../engine/ops.ts';
import type { Tape } from '../tape.ts';
import type { Projection } from './projection.ts';

/** Elements of one [vocab × tokens] chunk tensor: 2^24 floats = 64 MiB. */
export const VOCAB_CHUNK_ELEMENTS = 2 ** 24;

export interface HeadOptions {
  /** log-probs and entropy are of softmax(logits / temperature), the distribution sampling used */
  temperature: number;
  entropy: boolean;
  /** tokens per chunk (default: as many as fit VOCAB_CHUNK_ELEMENTS) */
  chunkTokens?: number;
}

export interface HeadOutputs {
  /** [1, N] log p(target) */
  logp: Tensor;
  /** [1, N] entropy of the next-token distribution */
  entropy?: Tensor;
}

/**
 * [start, count] of each chunk of N tokens. The default size is a multiple of 32: the head's weight gradient
 * contracts over the chunk's tokens, and ggml's fast matmul kernels need that dimension a multiple of 8–32.
 */
export function tokenChunks(N: number, vocab: number, chunkTokens?: number): [number, number][] {
  const fit = 32 * Math.max(1, Math.floor(VOCAB_CHUNK_ELEMENTS / vocab / 32));
  const size = Math.max(1, Math.min(N, chunkTokens ?? fit));
  const out: [number, number][] = [];
  for (let n0 = 0; n0 < N; n0 += size) out.push([n0, Math.min(size, N - n0)]);
  return out;
}

/**
 * `flatTargets` i32 [N] holds, for token n of the chunk starting at n0, (n − n0)·vocab + target_n: the flat index
 * of its target in the chunk's [vocab, n] probabilities (see writeTargets).
 */
export function tokenLogProbs(tape: Tape, proj: Projection, lmHead: Tensor, hidden: Tensor, flatTargets: Tensor, opts: HeadOptions): HeadOutputs {
  const o = tape.o;
  const V = lmHead.ne[1], N = hidden.ne[1], tau = opts.temperature;
  const chunks = tokenChunks(N, V, opts.chunkTokens);
  const probsOf = (h: Tensor) => {
    const z = o.matmul(proj.copies.forward(lmHead), h);
    return o.softmax(tau === 1 ? z : o.scale(z, 1 / tau));
  };
  const targetsOf = (n0: number, n: number) => o.view(flatTargets, [n, 1, 1, 1], [4 * n, 4 * n, 4 * n], 4 * n0);
  const logpParts: Tensor[] = [], entropyParts: Tensor[] = [];
  for (const [n0, n] of chunks) {
    const p = probsOf(o.columns(hidden, n0, n));
    // expanded chunk by chunk, so each chunk's [vocab × n] tensors are dead before the next chunk's
    logpParts.push(o.log(o.getRows(o.reshape(p, [1, V * n]), targetsOf(n0, n))));
    tape.graph.expand(logpParts[logpParts.length - 1]);
    if (opts.entropy) {
      entropyParts.push(o.scale(o.sumRows(o.mul(p, o.log(o.scaleBias(p, 1, 1e-30)))), -1));
      tape.graph.expand(entropyParts[entropyParts.length - 1]);
    }
  }
  const logp = concatAll(o, logpParts, 1);
  const entropy = opts.entropy ? concatAll(o, entropyParts, 1) : undefined;

  tape.record(entropy ? [logp, entropy] : [logp], [hidden], [lmHead], () => {
    const gLogp = tape.grad(logp), gEntropy = entropy && tape.grad(entropy);
    if (!gLogp && !gEntropy) return;
    const dHidden: Tensor[] = [];
    for (const [n0, n] of chunks) {
      const h = o.columns(hidden, n0, n);
      const p = probsOf(h);
      let dz: Tensor | null = null;
      if (gLogp) dz = o.scale(o.mul(p, o.columns(gLogp, n0, n)), -1);
      if (gEntropy) {
        const term = o.mul(o.mul(p, o.add(o.log(o.scaleBias(p, 1, 1e-30)), o.columns(entropy!, n0, n))), o.columns(gEntropy, n0, n));
        dz = dz ? o.sub(dz, term) : o.scale(term, -1);
      }
      if (gLogp) {
        // + g at each token's target: gather, add, scatter back into the flat view
        const flat = o.reshape(dz!, [1, V * n]), at = targetsOf(n0, n);
        dz = o.reshape(o.setRows(flat, o.add(o.getRows(flat, at), o.columns(gLogp, n0, n)), at), [V, n]);
      }
      if (tau !== 1) dz = o.scale(dz!, 1 / tau);
      if (tape.wants(lmHead)) tape.addParamGrad(lmHead, proj.weightGradient(tape, h, dz!));
      if (tape.needs(hidden)) {
        dHidden.push(proj.inputGradient(tape, lmHead, dz!));
        tape.graph.expand(dHidden[dHidden.length - 1]); // before the next chunk, so this chunk's memory is reused
      }
    }
    if (dHidden.length) tape.addGrad(hidden, concatAll(o, dHidden, 1));
  });
  return { logp, entropy };
}

/** Fill `flatTargets` for tokenLogProbs: targets [N] → chunk-local flat indices. */
export function writeTargets(targets: Int32Array, vocab: number, chunks: [number, number][]): Int32Array {
  const flat = new Int32Array(targets.length);
  for (const [n0, n] of chunks) for (let i = 0; i < n; i++) flat[n0 + i] = i * vocab + targets[n0 + i];
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

/** Join tensors along `dim` as a balanced tree of concats (each element is copied log₂(parts) times). */
function concatAll(o: Ops, parts: Tensor[], dim: number): Tensor {
  let level = parts;
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? o.concat(level[i], level[i + 1], dim) : level[i]);
    level = next;
  }
  return level[0];
}
