import { GrpoError } from '../../errors.ts';
import { validateConfig, type LlamaConfig } from '../config.ts';

/**
 * Hugging Face config.json <-> LlamaConfig. Field names and defaults follow transformers' LlamaConfig,
 * Qwen2Config and Qwen3Config; features the graph lacks (o_proj/MLP bias, sliding window, RoPE scaling,
 * quantization) are rejected by name instead of being silently ignored.
 */

const architectures = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
} as const satisfies Record<string, LlamaConfig['arch']>;

export type HfArchitecture = keyof typeof architectures;
export const supportedHfArchitectures = Object.keys(architectures) as HfArchitecture[];

type Json = Record<string, unknown>;

function num(hf: Json, key: string, source: string, fallback?: number): number {
  const v = hf[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new GrpoError('config', `${source}: config.json has no '${key}'`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new GrpoError('config', `${source}: config.json '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** eos_token_id may be an int or a list; generation_config.json may add more stop ids (Llama 3 instruct). */
function tokenIds(...values: unknown[]): number[] {
  const ids: number[] = [];
  for (const v of values) {
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'number' && !ids.includes(x)) ids.push(x);
  }
  return ids;
}

function unsupported(source: string, what: string): never {
  throw new GrpoError('config', `${source}: ${what} is not supported by grpo-ts's Llama/Qwen2/Qwen3 graph`);
}

export function llamaConfigFromHf(hf: Json, source: string, generationConfig: Json = {}): LlamaConfig {
  const archs = (hf.architectures as string[] | undefined) ?? [];
  const archName = archs.find((a) => a in architectures);
  if (!archName) {
    throw new GrpoError(
      'config',
      `${source}: unsupported architecture ${archs.length ? archs.join(', ') : `(none; model_type ${String(hf.model_type)})`}; supported: ${supportedHfArchitectures.join(', ')}`,
    );
  }
  const arch = architectures[archName as HfArchitecture];
  if (hf.quantization_config)
    unsupported(
      source,
      `a quantized checkpoint (quantization_config ${JSON.stringify((hf.quantization_config as Json).quant_method ?? '')})`,
    );
  if ((hf.hidden_act ?? 'silu') !== 'silu') unsupported(source, `hidden_act '${String(hf.hidden_act)}' (only silu)`);
  if (hf.attention_bias === true) unsupported(source, 'attention_bias: true (bias on q/k/v/o projections)');
  if (hf.mlp_bias === true) unsupported(source, 'mlp_bias: true');
  if (hf.use_sliding_window === true) unsupported(source, 'use_sliding_window: true');
  const ropeParams = (hf.rope_parameters ?? {}) as Json; // transformers >= 5 moves rope_theta here
  const scaling = (hf.rope_scaling ?? null) as Json | null;
  const ropeType = (scaling?.rope_type ?? scaling?.type ?? ropeParams.rope_type ?? 'default') as string;
  if (ropeType !== 'default')
    unsupported(source, `RoPE scaling '${ropeType}' (rope_scaling ${JSON.stringify(scaling ?? ropeParams)})`);

  const dim = num(hf, 'hidden_size', source);
  const nHeads = num(hf, 'num_attention_heads', source);
  const config: LlamaConfig = {
    arch,
    vocabSize: num(hf, 'vocab_size', source),
    dim,
    nLayers: num(hf, 'num_hidden_layers', source),
    nHeads,
    nKvHeads: num(hf, 'num_key_value_heads', source, nHeads),
    headDim: num(hf, 'head_dim', source, arch === 'qwen3' ? 128 : dim / nHeads),
    ffnDim: num(hf, 'intermediate_size', source),
    ropeTheta: typeof ropeParams.rope_theta === 'number' ? ropeParams.rope_theta : num(hf, 'rope_theta', source, 10000),
    normEps: num(hf, 'rms_norm_eps', source, 1e-6),
    maxSeqLen: num(hf, 'max_position_embeddings', source, arch === 'llama' ? 2048 : 32768),
    tieEmbeddings: hf.tie_word_embeddings === true,
    qkvBias: arch === 'qwen2',
    qkNorm: arch === 'qwen3',
  };
  const bos = generationConfig.bos_token_id ?? hf.bos_token_id;
  if (typeof bos === 'number') config.bosTokenId = bos;
  const eos = tokenIds(hf.eos_token_id, generationConfig.eos_token_id);
  if (eos.length) config.eosTokenIds = eos;
  return validateConfig(config);
}

/** Which transformers class runs a config: decided by its flags (the arch field is only a label). */
export function hfArchitectureFor(c: LlamaConfig): HfArchitecture {
  if (c.qkvBias && c.qkNorm)
    throw new GrpoError(
      'config',
      'no Hugging Face architecture has both q/k/v bias and q/k norm; cannot save this config as config.json',
    );
  if (c.qkNorm) return 'Qwen3ForCausalLM';
  if (c.qkvBias) return 'Qwen2ForCausalLM';
  return 'LlamaForCausalLM';
}

/** config.json that transformers (and vLLM) load for this config. */
export function hfConfigFromLlama(c: LlamaConfig, torchDtype: 'float32' | 'float16' | 'bfloat16'): Json {
  const architecture = hfArchitectureFor(c);
  const modelType = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3' }[architecture];
  const eos = c.eosTokenIds ?? [];
  const json: Json = {
    architectures: [architecture],
    model_type: modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.dim,
    intermediate_size: c.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieEmbeddings,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: torchDtype,
  };
  if (architecture !== 'Qwen2ForCausalLM') json.attention_bias = false;
  if (architecture === 'LlamaForCausalLM') Object.assign(json, { mlp_bias: false, pretraining_tp: 1 });
  if (architecture !== 'LlamaForCausalLM')
    Object.assign(json, { use_sliding_window: false, sliding_window: null, max_window_layers: c.nLayers });
  if (c.bosTokenId !== undefined) json.bos_token_id = c.bosTokenId;
  if (eos.length) json.eos_token_id = eos.length === 1 ? eos[0] : eos;
  return json;
}
