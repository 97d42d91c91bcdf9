/**
 * The transformer block of the Llama family, built in one place for training, scoring and KV-cache decoding.
 * Pre-norm: x += Wo·Attn(RoPE(Wq·h), RoPE(Wk·h), Wv·h); x += Wdown(silu(Wgate·h) ⊙ Wup·h), h = RMSNorm(x)·g.
 * Covers Llama 2/3 (GQA), Qwen2 (q/k/v bias) and Qwen3 (per-head RMSNorm of q and k before RoPE).
 * Every matrix product goes through the projection hook; the attention core is the caller's (full causal
 * attention over a batch, or attention over a KV cache). On a recording tape each piece also records its backward.
 */
import type { Tensor } from '../engine/tensor.ts';
import type { Tape } from './tape.ts';
import type { LayerWeights } from './llama-weights.ts';
import type { LlamaConfig } from './config.ts';
import type { Projection } from './pieces/projection.ts';
import { rmsNorm } from './pieces/rms-norm.ts';
import { residual, reshape, rope } from './pieces/structural.ts';
import { swiglu } from './pieces/swiglu.ts';

/** q [hd, H, N] and k [hd, Hkv, N] after RoPE, v [hd·Hkv, N] → [hd·H, N] */
export type AttentionCore = (q: Tensor, k: Tensor, v: Tensor) => Tensor;

export function transformerBlock(
  tape: Tape,
  proj: Projection,
  l: LayerWeights,
  x: Tensor,
  positions: Tensor,
  attend: AttentionCore,
  c: LlamaConfig,
): Tensor {
  const N = x.ne[1],
    hd = c.headDim;
  const h = rmsNorm(tape, x, l.attnNorm, c.normEps);
  let q = reshape(tape, proj.apply(tape, h, l.wq, l.bq), [hd, c.nHeads, N]);
  let k = reshape(tape, proj.apply(tape, h, l.wk, l.bk), [hd, c.nKvHeads, N]);
  const v = proj.apply(tape, h, l.wv, l.bv);
  if (l.qNorm) q = rmsNorm(tape, q, l.qNorm, c.normEps);
  if (l.kNorm) k = rmsNorm(tape, k, l.kNorm, c.normEps);
  q = rope(tape, q, positions, c);
  k = rope(tape, k, positions, c);
  const mid = residual(tape, x, proj.apply(tape, attend(q, k, v), l.wo));
  const h2 = rmsNorm(tape, mid, l.ffnNorm, c.normEps);
  const act = swiglu(tape, proj.apply(tape, h2, l.gate), proj.apply(tape, h2, l.up));
  return residual(tape, mid, proj.apply(tape, act, l.down));
}
