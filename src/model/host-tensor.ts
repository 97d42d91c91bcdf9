import { GrpoError } from '../errors.ts';

/**
 * A tensor in host memory, in PyTorch / Hugging Face convention: `shape` is outermost-first and `data` is
 * row-major float32. A linear layer's weight is [out, in]. This is the interchange type between weight
 * readers/writers (safetensors, GGUF, llama2.c) and the model, which uploads it to ggml (where the same bytes
 * are a tensor with ne0 = in, ne1 = out).
 *
 * Names follow Hugging Face Llama/Qwen checkpoints:
 *   model.embed_tokens.weight [vocab, dim]; model.norm.weight [dim]; lm_head.weight [vocab, dim] (absent if tied)
 *   model.layers.{i}.input_layernorm.weight, .post_attention_layernorm.weight [dim]
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, .{q,k,v}_proj.bias (Qwen2), .{q,k}_norm.weight (Qwen3)
 *   model.layers.{i}.mlp.{gate,up,down}_proj.weight
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, HostTensor>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A host tensor whose `data` is produced anew on every access (read from a file or from the device): streaming
 * readers and writers then hold one tensor's values at a time. Read `data` once per use.
 */
export function lazyHostTensor(shape: number[], read: () => Float32Array): HostTensor {
  return {
    shape,
    get data() {
      return read();
    },
  };
}

export function hostTensor(shape: number[], data?: Float32Array): HostTensor {
  const n = numel(shape);
  if (data && data.length !== n) {
    throw new GrpoError('shape', `tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  }
  return { shape, data: data ?? new Float32Array(n) };
}
