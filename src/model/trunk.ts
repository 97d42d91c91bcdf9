/**
 * The Llama model as a graph, built in one place for training, scoring and KV-cache decoding:
 *   token embedding → the transformer blocks (block.ts) → the final RMSNorm → a head.
 * `trunk` builds everything up to the final hidden states; the head is the caller's choice among two: the
 * next-token logits (`nextTokenLogits`, for inference and decoding) or the per-token log-probs, entropy and values
 * of the scored tokens (pieces/token-head.ts, for scoring and training). The attention core is the caller's too:
 * over a packed batch, or over the KV cache.
 */
import type { Tensor } from '../engine/tensor.ts';
import type { Tape } from './tape.ts';
import type { LayerWeights, LlamaWeights } from './llama-weights.ts';
import type { LoraAdapters } from './lora.ts';
import type { Projection } from './pieces/projection.ts';
import type { WeightCopies } from './weight-copies.ts';
import { transformerBlock, type AttentionCore } from './block.ts';
import { embedding } from './pieces/embedding.ts';
import { rmsNorm } from './pieces/rms-norm.ts';
import { recomputed } from './pieces/recompute.ts';
import { decodingProduct } from './batch-invariance.ts';

export interface TrunkInputs {
  weights: LlamaWeights;
  /** the products' hook: precision copies and LoRA adapters */
  proj: Projection;
  /** i32 [N]: token ids */
  tokens: Tensor;
  /** i32 [N]: their RoPE positions */
  positions: Tensor;
  /** the attention core of layer `layer`, built on `tape` (a recomputed layer's own tape) */
  attention: (tape: Tape, layer: number) => AttentionCore;
  /** on a recording tape: recompute each layer's activations in the backward (gradient checkpointing) */
  recompute?: boolean;
  /** the adapters the projections apply: a recomputed layer reads them as weights */
  lora?: LoraAdapters | null;
  /** the columns of the last layer's output the final norm reads (default all of them) */
  select?: (x: Tensor) => Tensor;
}

/** Embedding, the transformer blocks and the final RMSNorm: the final hidden states [dim, ·] a head reads. */
export function trunk(tape: Tape, t: TrunkInputs): Tensor {
  const c = t.weights.config;
  const block = (tp: Tape, layer: LayerWeights, l: number, x: Tensor) =>
    transformerBlock(tp, t.proj, layer, x, t.positions, t.attention(tp, l), c);
  let x = embedding(tape, t.weights.embed, t.tokens); // [dim, N]
  t.weights.layers.forEach((layer, l) => {
    x =
      t.recompute && tape.recording
        ? recomputed(tape, x, layerTensors(layer, t.lora ?? null), (tp, xin) => block(tp, layer, l, xin))
        : block(tape, layer, l, x);
  });
  return rmsNorm(tape, t.select ? t.select(x) : x, t.weights.finalNorm, c.normEps);
}

/**
 * The LM head: next-token logits [vocab, ·] of final hidden states (forward only); `decoding`: batch-invariant in f32
 * (batch-invariance.ts)
 */
export function nextTokenLogits(
  tape: Tape,
  copies: WeightCopies,
  lmHead: Tensor,
  hidden: Tensor,
  decoding = false,
): Tensor {
  const w = copies.forward(lmHead);
  return decoding ? decodingProduct(tape.o, w, hidden) : tape.o.matmul(w, hidden);
}

/** Every tensor a layer's forward reads as a weight: its parameters and their LoRA adapters. */
function layerTensors(layer: LayerWeights, lora: LoraAdapters | null): Tensor[] {
  const own = Object.values(layer).filter((t): t is Tensor => t !== undefined);
  return own.concat(
    own.flatMap((w) => {
      const a = lora?.of(w);
      return a ? [a.a, a.b] : [];
    }),
  );
}
