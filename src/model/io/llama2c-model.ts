import { GrpoError } from '../../errors.ts';
import { validateConfig, type LlamaConfig } from '../config.ts';
import { hostTensor, type WeightMap } from '../host-tensor.ts';
import { assertLittleEndianHost, bytesOf, fileSize, readExact, withOpenFile } from './binary-file.ts';
import type { LoadedModel } from './loaded-model.ts';
import { interleavedToHalf } from './rope-permute.ts';
import { checkWeights } from './weight-names.ts';

/**
 * llama2.c checkpoints (karpathy/llama2.c, export.py / run.c):
 *  - legacy (v0): 7 int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
 *    vocab_size < 0 means an unshared classifier), then float32 weights grouped by kind over layers —
 *    embedding, attn norms, wq, wk, wv, wo, ffn norms, w1, w2, w3, final norm, freq_cis_real and
 *    freq_cis_imag ([seq_len, head_size/2] each, skipped), then the classifier if unshared;
 *  - version 1: magic "ak42" (0x616b3432), int32 version 1, the same 7 ints, a shared-classifier byte,
 *    zero padding to 256 bytes, then norms first (attn, ffn, final), embedding, wq..w3, classifier if unshared.
 * Each matrix is PyTorch [out, in]. llama2.c's RoPE is interleaved, so wq/wk rows are permuted into HF
 * layout; w1/w3/w2 are gate/up/down. Hyper-parameters llama2.c hard-codes: RoPE theta 10000, RMSNorm eps 1e-5.
 */

const MAGIC_V1 = 0x616b3432;

interface Header {
  version: 0 | 1;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  shared: boolean;
  dataStart: number;
}

function readHeader(fd: number, path: string): Header {
  const head = Buffer.alloc(40);
  readExact(fd, head, 0, path);
  if (head.readUInt32LE(0) === MAGIC_V1) {
    const version = head.readInt32LE(4);
    if (version !== 1) {
      throw new GrpoError(
        'io',
        `${path}: llama2.c format version ${version} (int8-quantized) is not supported; export with version 1 (fp32) or the legacy format`,
      );
    }
    const p = Array.from({ length: 7 }, (_, i) => head.readInt32LE(8 + 4 * i));
    return {
      version: 1,
      dim: p[0],
      hiddenDim: p[1],
      nLayers: p[2],
      nHeads: p[3],
      nKvHeads: p[4],
      vocabSize: p[5],
      seqLen: p[6],
      shared: head[36] === 1,
      dataStart: 256,
    };
  }
  const p = Array.from({ length: 7 }, (_, i) => head.readInt32LE(4 * i));
  return {
    version: 0,
    dim: p[0],
    hiddenDim: p[1],
    nLayers: p[2],
    nHeads: p[3],
    nKvHeads: p[4],
    vocabSize: Math.abs(p[5]),
    seqLen: p[6],
    shared: p[5] > 0,
    dataStart: 28,
  };
}

function configOf(h: Header, path: string): LlamaConfig {
  const sane = [h.dim, h.hiddenDim, h.nLayers, h.nHeads, h.nKvHeads, h.vocabSize, h.seqLen].every(
    (x) => Number.isInteger(x) && x > 0 && x < 1e7,
  );
  if (!sane || h.dim % h.nHeads !== 0) {
    throw new GrpoError(
      'io',
      `${path} is not a llama2.c model checkpoint (header ${JSON.stringify(h)}); if it is a tokenizer, load it with loadTokenizer`,
    );
  }
  return validateConfig({
    arch: 'llama',
    vocabSize: h.vocabSize,
    dim: h.dim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.dim / h.nHeads,
    ffnDim: h.hiddenDim,
    ropeTheta: 10000,
    normEps: 1e-5,
    maxSeqLen: h.seqLen,
    tieEmbeddings: h.shared,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  });
}

/** [kind, shape] of each block in file order; a kind repeated per layer is one block of nLayers tensors. */
function fileLayout(h: Header, c: LlamaConfig): { kind: string; shape: number[]; perLayer: boolean }[] {
  const kv = c.nKvHeads * c.headDim;
  const L = (kind: string, shape: number[]) => ({ kind, shape, perLayer: true });
  const G = (kind: string, shape: number[]) => ({ kind, shape, perLayer: false });
  const matrices = [L('wq', [c.dim, c.dim]), L('wk', [kv, c.dim]), L('wv', [kv, c.dim]), L('wo', [c.dim, c.dim])];
  const ffn = [L('w1', [c.ffnDim, c.dim]), L('w2', [c.dim, c.ffnDim]), L('w3', [c.ffnDim, c.dim])];
  const classifier = h.shared ? [] : [G('wcls', [c.vocabSize, c.dim])];
  if (h.version === 1) {
    return [
      L('attn_norm', [c.dim]),
      L('ffn_norm', [c.dim]),
      G('norm', [c.dim]),
      G('embed', [c.vocabSize, c.dim]),
      ...matrices,
      ...ffn,
      ...classifier,
    ];
  }
  const freq = [h.seqLen, c.headDim / 2];
  return [
    G('embed', [c.vocabSize, c.dim]),
    L('attn_norm', [c.dim]),
    ...matrices,
    L('ffn_norm', [c.dim]),
    ...ffn,
    G('norm', [c.dim]),
    G('freq_cis_real', freq),
    G('freq_cis_imag', freq),
    ...classifier,
  ];
}

const hfName: Record<string, string> = {
  attn_norm: 'input_layernorm.weight',
  ffn_norm: 'post_attention_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  w1: 'mlp.gate_proj.weight',
  w2: 'mlp.down_proj.weight',
  w3: 'mlp.up_proj.weight',
  embed: 'model.embed_tokens.weight',
  norm: 'model.norm.weight',
  wcls: 'lm_head.weight',
};

export function readLlama2cModel(path: string): LoadedModel {
  assertLittleEndianHost();
  const size = fileSize(path);
  return withOpenFile(path, 'r', (fd) => {
    if (size < 40) throw new GrpoError('io', `${path} is too small (${size} bytes) to be a llama2.c checkpoint`);
    const h = readHeader(fd, path);
    const config = configOf(h, path);
    const layout = fileLayout(h, config);
    const floats = layout.reduce(
      (s, b) => s + b.shape.reduce((a, d) => a * d, 1) * (b.perLayer ? config.nLayers : 1),
      0,
    );
    if (h.dataStart + 4 * floats !== size) {
      throw new GrpoError(
        'io',
        `${path}: a llama2.c v${h.version} checkpoint with header ${JSON.stringify(config)} should be ${h.dataStart + 4 * floats} bytes, but the file is ${size}; it is not a llama2.c model or it is corrupt`,
      );
    }
    const weights: WeightMap = new Map();
    let pos = h.dataStart;
    for (const block of layout) {
      for (let l = 0; l < (block.perLayer ? config.nLayers : 1); l++) {
        const t = hostTensor([...block.shape]);
        readExact(fd, bytesOf(t.data), pos, path);
        pos += t.data.byteLength;
        if (block.kind.startsWith('freq_cis')) continue; // precomputed RoPE tables; the graph computes its own
        const name = block.perLayer ? `model.layers.${l}.${hfName[block.kind]}` : hfName[block.kind];
        const permuted =
          block.kind === 'wq'
            ? interleavedToHalf(t, config.nHeads)
            : block.kind === 'wk'
              ? interleavedToHalf(t, config.nKvHeads)
              : t;
        weights.set(name, permuted);
      }
    }
    checkWeights(config, weights, path);
    return { config, weights };
  });
}
