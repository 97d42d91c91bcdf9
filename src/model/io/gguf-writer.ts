import { GrpoError } from '../../errors.ts';
import { validateConfig } from '../config.ts';
import { assertLittleEndianHost, bytesOf, writeAll, streamFileAtomic } from './binary-file.ts';
import { f32ToBf16, f32ToF16 } from './float-convert.ts';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufType, type GgufEntry } from './gguf-format.ts';
import type { LoadedModel } from './loaded-model.ts';
import { halfToInterleaved } from './rope-permute.ts';
import { checkWeights, orderedWeights } from './weight-names.ts';

/**
 * GGUF v3 writer: generic (metadata + F32/F16/BF16 tensors) and for a Llama/Qwen2/Qwen3 model in the layout
 * llama.cpp expects (tensor names and q/k permutation as convert_hf_to_gguf.py writes them), so the same
 * weights can be run by llama.cpp (e.g. to compare speed or logits).
 */

export interface GgufTensorToWrite {
  name: string;
  /** ggml dims, innermost first (HF shape reversed) */
  ne: number[];
  type: GgmlType.F32 | GgmlType.F16 | GgmlType.BF16;
  data: Float32Array;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  scalar(type: GgufType, v: unknown): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case GgufType.UINT8:
        b.writeUInt8(v as number);
        return this.push(b.subarray(0, 1));
      case GgufType.INT8:
        b.writeInt8(v as number);
        return this.push(b.subarray(0, 1));
      case GgufType.UINT16:
        b.writeUInt16LE(v as number);
        return this.push(b.subarray(0, 2));
      case GgufType.INT16:
        b.writeInt16LE(v as number);
        return this.push(b.subarray(0, 2));
      case GgufType.UINT32:
        return this.u32(v as number);
      case GgufType.INT32:
        b.writeInt32LE(v as number);
        return this.push(b.subarray(0, 4));
      case GgufType.FLOAT32:
        b.writeFloatLE(v as number);
        return this.push(b.subarray(0, 4));
      case GgufType.BOOL:
        b.writeUInt8(v ? 1 : 0);
        return this.push(b.subarray(0, 1));
      case GgufType.STRING:
        return this.str(v as string);
      case GgufType.UINT64:
        return this.u64(v as number);
      case GgufType.INT64:
        b.writeBigInt64LE(BigInt(v as number));
        return this.push(b);
      case GgufType.FLOAT64:
        b.writeDoubleLE(v as number);
        return this.push(b);
      default:
        throw new GrpoError('io', `cannot write GGUF value type ${type}`);
    }
  }
  /** A metadata key-value pair: key, value type, then the value (an array as item type, count, items). */
  metadataEntry(key: string, e: GgufEntry): void {
    this.str(key);
    this.u32(e.type);
    if (e.type !== GgufType.ARRAY) return this.scalar(e.type, e.value);
    if (e.itemType === undefined || e.itemType === GgufType.ARRAY)
      throw new GrpoError('io', `GGUF metadata '${key}': arrays need a scalar itemType`);
    const items = e.value as ArrayLike<unknown>;
    this.u32(e.itemType);
    this.u64(items.length);
    for (let i = 0; i < items.length; i++) this.scalar(e.itemType, items[i]);
  }
  /** A tensor's header entry: name, dims, type and its offset in the data section. */
  tensorInfo({ tensor, offset }: PlacedTensor): void {
    this.str(tensor.name);
    this.u32(tensor.ne.length);
    for (const d of tensor.ne) this.u64(d);
    this.u32(tensor.type);
    this.u64(offset);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Write a GGUF v3 file atomically. Metadata order is kept; tensor data is aligned to `general.alignment` (32). */
export function writeGguf(path: string, metadata: Map<string, GgufEntry>, tensors: GgufTensorToWrite[]): void {
  assertLittleEndianHost();
  const alignment = (metadata.get('general.alignment')?.value as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, e] of metadata) head.metadataEntry(key, e);
  const layout = placeTensors(tensors, alignment);
  for (const t of layout.placed) head.tensorInfo(t);
  const headBytes = head.toBuffer();
  // streamed: the header is small, but the tensors are converted and written one at a time
  streamFileAtomic(path, (fd) => {
    writeAll(fd, headBytes);
    writeTensorData(fd, headBytes.length, layout, alignment);
  });
}

interface PlacedTensor {
  tensor: GgufTensorToWrite;
  /** from the start of the data section */
  offset: number;
  bytes: number;
}

/** Where each tensor's data goes: one after another, each starting on an `alignment` boundary. */
function placeTensors(tensors: GgufTensorToWrite[], alignment: number): { placed: PlacedTensor[]; dataLength: number } {
  let dataLength = 0;
  const placed = tensors.map((tensor) => {
    const n = tensor.ne.reduce((a, b) => a * b, 1);
    if (n !== tensor.data.length)
      throw new GrpoError(
        'shape',
        `GGUF tensor '${tensor.name}' has ${tensor.data.length} elements but ne [${tensor.ne.join(', ')}]`,
      );
    const bytes = n * (tensor.type === GgmlType.F32 ? 4 : 2);
    const offset = dataLength;
    dataLength = align(dataLength + bytes, alignment);
    return { tensor, offset, bytes };
  });
  return { placed, dataLength };
}

/** The data section after a header of `headLength` bytes: zero padding, then each tensor at its offset. */
function writeTensorData(
  fd: number,
  headLength: number,
  layout: { placed: PlacedTensor[]; dataLength: number },
  alignment: number,
): void {
  let pos = headLength;
  const pad = (to: number) => {
    if (to > pos) writeAll(fd, new Uint8Array(to - pos));
    pos = to;
  };
  pad(align(pos, alignment));
  const dataStart = pos;
  for (const { tensor, offset, bytes } of layout.placed) {
    pad(dataStart + offset);
    if (tensor.type === GgmlType.F32) writeAll(fd, bytesOf(tensor.data));
    else {
      const half = new Uint16Array(tensor.data.length);
      (tensor.type === GgmlType.BF16 ? f32ToBf16 : f32ToF16)(tensor.data, half);
      writeAll(fd, bytesOf(half));
    }
    pos += bytes;
  }
  pad(dataStart + layout.dataLength);
}

/** A vocabulary as GGUF stores it (llama.cpp's `tokenizer.ggml.*` keys). */
export interface GgufVocab {
  /** 'llama' = SentencePiece (tokens with ▁, scores); 'gpt2' = byte-level BPE (tokens + merges) */
  model: 'llama' | 'gpt2';
  tokens: string[];
  scores?: ArrayLike<number>;
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte */
  tokenTypes?: ArrayLike<number>;
  /** 'left right' strings, for gpt2 */
  merges?: string[];
  /** pre-tokenizer name for gpt2 vocabularies (e.g. 'gpt-2', 'llama-bpe', 'qwen2') */
  pre?: string;
  bosId?: number;
  eosId?: number;
  unkId?: number;
  padId?: number;
  /** llama.cpp prepends BOS to a tokenized prompt when true (absent: its default for the vocabulary type) */
  addBos?: boolean;
  /** llama.cpp appends EOS when true */
  addEos?: boolean;
  chatTemplate?: string;
}

export function ggufVocabMetadata(v: GgufVocab): [string, GgufEntry][] {
  const arr = (itemType: GgufType, value: ArrayLike<unknown>): GgufEntry => ({
    type: GgufType.ARRAY,
    itemType,
    value: Array.from(value) as never,
  });
  const out: [string, GgufEntry][] = [
    ['tokenizer.ggml.model', { type: GgufType.STRING, value: v.model }],
    ['tokenizer.ggml.tokens', arr(GgufType.STRING, v.tokens)],
  ];
  if (v.pre) out.push(['tokenizer.ggml.pre', { type: GgufType.STRING, value: v.pre }]);
  if (v.scores) out.push(['tokenizer.ggml.scores', arr(GgufType.FLOAT32, v.scores)]);
  if (v.tokenTypes) out.push(['tokenizer.ggml.token_type', arr(GgufType.INT32, v.tokenTypes)]);
  if (v.merges) out.push(['tokenizer.ggml.merges', arr(GgufType.STRING, v.merges)]);
  const ids: [string, number | undefined][] = [
    ['bos', v.bosId],
    ['eos', v.eosId],
    ['unknown', v.unkId],
    ['padding', v.padId],
  ];
  for (const [k, id] of ids)
    if (id !== undefined) out.push([`tokenizer.ggml.${k}_token_id`, { type: GgufType.UINT32, value: id }]);
  if (v.addBos !== undefined) out.push(['tokenizer.ggml.add_bos_token', { type: GgufType.BOOL, value: v.addBos }]);
  if (v.addEos !== undefined) out.push(['tokenizer.ggml.add_eos_token', { type: GgufType.BOOL, value: v.addEos }]);
  if (v.chatTemplate) out.push(['tokenizer.chat_template', { type: GgufType.STRING, value: v.chatTemplate }]);
  return out;
}

export interface WriteGgufModelOptions {
  /** type of 2-D weights; 1-D norms and biases are always F32 (as convert_hf_to_gguf.py writes them) */
  dtype?: 'F32' | 'F16' | 'BF16';
  vocab?: GgufVocab;
  name?: string;
}

const ggufLayerNames: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

function ggufName(hf: string): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (m && m[2] in ggufLayerNames) return `blk.${m[1]}.${ggufLayerNames[m[2]]}`;
  throw new GrpoError('io', `no GGUF name for tensor '${hf}'`);
}

const matrixTypes = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 } as const;

/** Save a model as a GGUF llama.cpp can run: arch qwen3 if q/k norm, qwen2 if q/k/v bias, else llama. */
export function writeGgufModel(path: string, model: LoadedModel, opts: WriteGgufModelOptions = {}): void {
  const c = validateConfig(model.config);
  checkWeights(c, model.weights, `saving ${path}`);
  if (c.qkvBias && c.qkNorm) throw new GrpoError('config', 'no GGUF architecture has both q/k/v bias and q/k norm');
  const arch = c.qkNorm ? 'qwen3' : c.qkvBias ? 'qwen2' : 'llama';
  const dtype = opts.dtype ?? 'F32';
  const u32 = (value: number): GgufEntry => ({ type: GgufType.UINT32, value });
  const f32 = (value: number): GgufEntry => ({ type: GgufType.FLOAT32, value });
  const meta = new Map<string, GgufEntry>([
    ['general.architecture', { type: GgufType.STRING, value: arch }],
    ['general.name', { type: GgufType.STRING, value: opts.name ?? 'grpo-ts model' }],
    // llama.cpp's llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32
    ['general.file_type', u32({ F32: 0, F16: 1, BF16: 32 }[dtype])],
    [`${arch}.context_length`, u32(c.maxSeqLen)],
    [`${arch}.embedding_length`, u32(c.dim)],
    [`${arch}.feed_forward_length`, u32(c.ffnDim)],
    [`${arch}.block_count`, u32(c.nLayers)],
    [`${arch}.attention.head_count`, u32(c.nHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.nKvHeads)],
    [`${arch}.attention.key_length`, u32(c.headDim)],
    [`${arch}.attention.value_length`, u32(c.headDim)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.normEps)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
  ]);
  // The config's bos/eos ids travel even without a vocabulary; a vocabulary's own ids take precedence.
  if (c.bosTokenId !== undefined) meta.set('tokenizer.ggml.bos_token_id', u32(c.bosTokenId));
  if (c.eosTokenIds?.length) meta.set('tokenizer.ggml.eos_token_id', u32(c.eosTokenIds[0]));
  if (c.eosTokenIds && c.eosTokenIds.length > 1) meta.set('tokenizer.ggml.eot_token_id', u32(c.eosTokenIds[1]));
  for (const [k, e] of opts.vocab ? ggufVocabMetadata(opts.vocab) : []) meta.set(k, e);
  const tensors: GgufTensorToWrite[] = orderedWeights(c, model.weights)
    .filter(([name]) => name !== 'value_head.weight')
    .map(([name, t]) => {
      let data = t.data;
      if (arch === 'llama' && name.includes('.self_attn.q_proj.')) data = halfToInterleaved(t, c.nHeads).data;
      if (arch === 'llama' && name.includes('.self_attn.k_proj.')) data = halfToInterleaved(t, c.nKvHeads).data;
      const type = t.shape.length === 2 ? matrixTypes[dtype] : GgmlType.F32;
      return { name: ggufName(name), ne: [...t.shape].reverse(), type, data };
    });
  writeGguf(path, meta, tensors);
}
