/**
 * Batch-invariant decoding in f32 on ggml's CPU backend: a sequence decodes, bit for bit, the tokens and log-probs it
 * decodes alone, whatever it is batched with and whenever it joined. Three rules fix the order in which ggml sums
 * each dot product; none changes what is computed.
 *
 * 1. A decoding step multiplies f32 weights column by column. ggml's CPU mul_mat gives a product to llamafile's
 *    tinyBLAS only from two columns on (llamafile/sgemm.cpp: "only enable sgemm for prompt processing", `if (n < 2)
 *    return false`) and a one-column product to ggml_vec_dot_f32, which sums in another order (four vector
 *    accumulators, then a tail; tinyBLAS one accumulator per output element), so a lone sequence's logits differed
 *    from its logits in a batch by ~1e-6. Activations shaped [in, 1, N] make each column a one-column product of its
 *    own (ggml broadcasts the weight over dimension 2): vec_dot whatever N, as alone. Measured on a 50M model, one
 *    thread, per decoding step at 8–128 sequences: 5–20% faster than tinyBLAS with ggml's AVX-512 build, up to 8%
 *    slower with its AVX2 one; the same alone.
 *    Low-precision products (BF16 weight copies, a bf16 or q8_0 LoRA base) keep ggml's batched kernels: column by
 *    column they measured 17–20% slower per step from 32 sequences on (AVX-512 BF16) and 35% (AVX2): more than
 *    invariance is worth there. So in bf16 a request's log-probs batched and alone differ by BF16 rounding (a
 *    last-bit difference before an activation is rounded to BF16 sometimes crosses a rounding boundary), and a
 *    sampled token can differ where two candidates are nearly tied (issue 27: 8 of 40 requests); `--precision f32`
 *    is exact.
 * 2. A prefill feeds at least MIN_PREFILL_TOKENS tokens per run, so its products always have two columns or more and
 *    go to tinyBLAS (or, for a matrix whose shape tinyBLAS does not take, to vec_dot whatever the batch), which sums
 *    each output element the same way whatever tile or batch holds it; its LM head (one column per run) is column by
 *    column, as rule 1.
 * 3. Attention spans, and so KV-cache contexts, are whole blocks of SPAN_BLOCK positions. ggml sums the body of a row
 *    in SIMD steps and its tail one element at a time (ggml_vec_dot_f32: 64 floats a step on AVX-512; the softmax:
 *    16 lanes with a vector exp, the tail with expf), so a span that is not a multiple of the step would move a
 *    sequence's keys between body and tail when others lengthen it. Masked keys add exact zeros (the cache is
 *    zero-filled, and stale entries of a reused slot are finite).
 * GPU backends choose kernels by batch size as well (matrix-vector kernels for few columns) and would lose their
 * batched products to rule 1, so they keep ordinary products and are not covered.
 */
import type { Ops } from '../engine/ops.ts';
import type { Tensor } from '../engine/tensor.ts';

/** the fewest tokens a prefill feeds per run (right-padded) */
export const MIN_PREFILL_TOKENS = 2;

/** attention spans and KV-cache contexts are multiples of this many positions */
export const SPAN_BLOCK = 64;

/** n positions rounded up to whole span blocks */
export function spanBlocks(n: number): number {
  return Math.ceil(n / SPAN_BLOCK) * SPAN_BLOCK;
}

/** w [in, out] · x [in, N] → [out, N] in a decoding step: column by column where w is f32 (rule 1) */
export function decodingProduct(o: Ops, w: Tensor, x: Tensor): Tensor {
  if (w.dtype !== 'f32') return o.matmul(w, x);
  const [inF, N] = [x.ne[0], x.ne[1]];
  return o.reshape(o.matmul(w, o.reshape(x, [inF, 1, N])), [w.ne[1], N]);
}
