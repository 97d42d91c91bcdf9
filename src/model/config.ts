import { GrpoError } from '../errors.ts';

/**
 * Architecture of a Llama-family decoder. One config covers Llama 2/3 (GQA, RoPE theta), Qwen2 (bias on
 * q/k/v projections), Qwen3 (RMSNorm on q and k per head) and llama2.c checkpoints.
 *
 * Weights are always held in Hugging Face layout (see host-tensor.ts), whose RoPE rotates the two halves of
 * each head ("NeoX" style); loaders of formats with interleaved RoPE (llama2.c, GGUF llama) permute q/k rows
 * into that layout, so the graph has one RoPE convention.
 */
export interface LlamaConfig {
  /** Label only (which family the checkpoint came from); behaviour is decided by the flags below. */
  arch: 'llama' | 'qwen2' | 'qwen3';
  vocabSize: number;
  /** hidden_size */
  dim: number;
  nLayers: number;
  nHeads: number;
  /** num_key_value_heads (GQA when < nHeads) */
  nKvHeads: number;
  /** head_dim; dim / nHeads unless the checkpoint says otherwise (Qwen3 sets it explicitly) */
  headDim: number;
  /** intermediate_size of the SwiGLU MLP */
  ffnDim: number;
  ropeTheta: number;
  normEps: number;
  /** max_position_embeddings: longest sequence the model is meant for */
  maxSeqLen: number;
  /** lm_head shares the token-embedding matrix */
  tieEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2) */
  qkvBias: boolean;
  /** RMSNorm over each head of q and k before RoPE (Qwen3) */
  qkNorm: boolean;
  bosTokenId?: number;
  eosTokenIds?: number[];
}

/** Fill derived fields and reject configs the graph cannot run, with the offending field named. */
export function validateConfig(c: LlamaConfig): LlamaConfig {
  const positive = ['vocabSize', 'dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'maxSeqLen'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0)
      throw new GrpoError('config', `model config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nHeads % c.nKvHeads !== 0) {
    throw new GrpoError(
      'config',
      `model config: nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads}) for grouped-query attention`,
    );
  }
  if (c.headDim % 2 !== 0)
    throw new GrpoError('config', `model config: headDim must be even for RoPE, got ${c.headDim}`);
  if (!(c.ropeTheta > 0)) throw new GrpoError('config', `model config: ropeTheta must be > 0, got ${c.ropeTheta}`);
  if (!(c.normEps > 0)) throw new GrpoError('config', `model config: normEps must be > 0, got ${c.normEps}`);
  return c;
}

/** Parameter count of a config (embeddings counted once when tied). */
export function parameterCount(c: LlamaConfig): number {
  const q = c.nHeads * c.headDim,
    kv = c.nKvHeads * c.headDim;
  const attn = c.dim * q + 2 * c.dim * kv + q * c.dim + (c.qkvBias ? q + 2 * kv : 0) + (c.qkNorm ? 2 * c.headDim : 0);
  const mlp = 3 * c.dim * c.ffnDim;
  const perLayer = attn + mlp + 2 * c.dim;
  return c.vocabSize * c.dim * (c.tieEmbeddings ? 1 : 2) + c.nLayers * perLayer + c.dim;
}
