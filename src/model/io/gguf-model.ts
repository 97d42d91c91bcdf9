import { GrpoError } from '../../errors.ts';
import { validateConfig, type LlamaConfig } from '../config.ts';
import { hostTensor, type WeightMap } from '../host-tensor.ts';
import { withOpenFile } from './binary-file.ts';
import {
  ggufGet,
  ggufNumber,
  ggufString,
  readGgufFile,
  readGgufTensor,
  shortestFloat32,
  type GgufFile,
} from './gguf-format.ts';
import type { LoadedModel } from './loaded-model.ts';
import { interleavedToHalf } from './rope-permute.ts';
import { checkWeights } from './weight-names.ts';

/**
 * GGUF model -> config + weights in HF naming and layout. Tensor names follow gguf-py's tensor_mapping
 * (token_embd, blk.N.attn_q, output_norm, output ...). ggml dims are innermost first, so the HF shape is
 * `ne` reversed and the bytes are already row-major. For the `llama` architecture convert_hf_to_gguf.py
 * permutes q/k rows into interleaved RoPE order (LlamaModel.permute); we undo that. qwen2/qwen3 GGUFs use
 * NeoX RoPE and are stored unpermuted.
 */

export const supportedGgufArchitectures = ['llama', 'qwen2', 'qwen3'] as const;
type GgufArch = (typeof supportedGgufArchitectures)[number];

const globalNames: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

const layerNames: Record<string, string> = {
  'attn_norm.weight': 'input_layernorm.weight',
  'attn_q.weight': 'self_attn.q_proj.weight',
  'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight',
  'attn_q.bias': 'self_attn.q_proj.bias',
  'attn_k.bias': 'self_attn.k_proj.bias',
  'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_q_norm.weight': 'self_attn.q_norm.weight',
  'attn_k_norm.weight': 'self_attn.k_norm.weight',
  'attn_output.weight': 'self_attn.o_proj.weight',
  'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight',
  'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight',
};

/** GGUF tensor name -> HF name, or undefined for a tensor this graph has no place for. */
export function hfNameForGguf(name: string): string | undefined {
  if (name in globalNames) return globalNames[name];
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (m && m[2] in layerNames) return `model.layers.${m[1]}.${layerNames[m[2]]}`;
  return undefined;
}

function eosIdsOf(file: GgufFile): number[] {
  // llama.cpp stops on every end-of-generation token: eos, eot (end of turn), eom (end of message).
  const ids: number[] = [];
  for (const key of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const v = ggufGet(file, key);
    if (typeof v === 'number' && v >= 0 && v < 0xffffffff && !ids.includes(v)) ids.push(v);
  }
  return ids;
}

function configOf(file: GgufFile): LlamaConfig {
  const arch = ggufString(file, 'general.architecture');
  if (!(supportedGgufArchitectures as readonly string[]).includes(arch)) {
    throw new GrpoError(
      'config',
      `${file.path}: GGUF architecture '${arch}' is not supported; supported: ${supportedGgufArchitectures.join(', ')}`,
    );
  }
  const k = (suffix: string) => `${arch}.${suffix}`;
  const headCountKv = ggufGet(file, k('attention.head_count_kv'));
  if (headCountKv !== undefined && typeof headCountKv !== 'number') {
    throw new GrpoError(
      'config',
      `${file.path}: per-layer attention.head_count_kv is not supported (all layers must share one kv head count)`,
    );
  }
  const scaling = ggufGet(file, k('rope.scaling.type'));
  if ((scaling !== undefined && scaling !== 'none') || file.tensors.some((t) => t.name === 'rope_freqs.weight')) {
    throw new GrpoError(
      'config',
      `${file.path}: RoPE scaling (${scaling ?? 'rope_freqs.weight'}) is not supported by grpo-ts's graph`,
    );
  }
  const names = new Set(file.tensors.map((t) => t.name));
  const embed = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embed) throw new GrpoError('io', `${file.path}: GGUF has no token_embd.weight tensor`);
  const dim = ggufNumber(file, k('embedding_length'));
  const nHeads = ggufNumber(file, k('attention.head_count'));
  const config: LlamaConfig = {
    arch: arch as GgufArch,
    vocabSize: embed.ne[1],
    dim,
    nLayers: ggufNumber(file, k('block_count')),
    nHeads,
    nKvHeads: (headCountKv as number | undefined) ?? nHeads,
    headDim: ggufNumber(file, k('attention.key_length'), dim / nHeads),
    ffnDim: ggufNumber(file, k('feed_forward_length')),
    ropeTheta: shortestFloat32(ggufNumber(file, k('rope.freq_base'), 10000)),
    normEps: shortestFloat32(ggufNumber(file, k('attention.layer_norm_rms_epsilon'))),
    maxSeqLen: ggufNumber(file, k('context_length')),
    tieEmbeddings: !names.has('output.weight'),
    qkvBias: names.has('blk.0.attn_q.bias'),
    qkNorm: names.has('blk.0.attn_q_norm.weight'),
  };
  const bos = ggufGet(file, 'tokenizer.ggml.bos_token_id');
  if (typeof bos === 'number' && bos < 0xffffffff) config.bosTokenId = bos;
  const eos = eosIdsOf(file);
  if (eos.length) config.eosTokenIds = eos;
  return validateConfig(config);
}

export function readGgufModel(path: string): LoadedModel {
  const file = readGgufFile(path);
  const config = configOf(file);
  const unpermute = config.arch === 'llama';
  const weights: WeightMap = new Map();
  withOpenFile(path, 'r', (fd) => {
    for (const info of file.tensors) {
      const name = hfNameForGguf(info.name);
      if (!name)
        throw new GrpoError(
          'io',
          `${path}: GGUF tensor '${info.name}' has no counterpart in the Llama/Qwen2/Qwen3 graph`,
        );
      let t = hostTensor([...info.ne].reverse(), readGgufTensor(fd, file, info));
      if (unpermute && /\.self_attn\.q_proj\./.test(name)) t = interleavedToHalf(t, config.nHeads);
      if (unpermute && /\.self_attn\.k_proj\./.test(name)) t = interleavedToHalf(t, config.nKvHeads);
      weights.set(name, t);
    }
  });
  checkWeights(config, weights, path);
  return { config, weights };
}
