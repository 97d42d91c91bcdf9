import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { readGgufFile, readGgufTensor, GgufType, type GgufEntry } from '../../src/model/io/gguf-format.ts';
import { readGgufModel } from '../../src/model/io/gguf-model.ts';
import { writeGguf, writeGgufModel } from '../../src/model/io/gguf-writer.ts';
import { loadModelWeights } from '../../src/model/io/load-model.ts';
import { assertSameWeights, randomWeights, tinyConfig, withTempDir } from './io-fixtures.ts';

/** Minimal GGUF v3 serializer written independently of src/ (strings, u32, f32 and string arrays only). */
function handMadeGguf(
  kv: [string, 'u32' | 'f32' | 'str' | 'strs', unknown][],
  tensors: { name: string; ne: number[]; type: number; bytes: Uint8Array }[],
  alignment = 32,
): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    parts.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s);
    u64(b.length);
    parts.push(b);
  };
  u32(0x46554747);
  u32(3);
  u64(tensors.length);
  u64(kv.length);
  for (const [k, kind, v] of kv) {
    str(k);
    if (kind === 'u32') {
      u32(4);
      u32(v as number);
    }
    if (kind === 'f32') {
      u32(6);
      const b = Buffer.alloc(4);
      b.writeFloatLE(v as number);
      parts.push(b);
    }
    if (kind === 'str') {
      u32(8);
      str(v as string);
    }
    if (kind === 'strs') {
      u32(9);
      u32(8);
      u64((v as string[]).length);
      for (const s of v as string[]) str(s);
    }
  }
  let off = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.ne.length);
    for (const d of t.ne) u64(d);
    u32(t.type);
    u64(off);
    off = Math.ceil((off + t.bytes.length) / alignment) * alignment;
  }
  const head = Buffer.concat(parts);
  const dataStart = Math.ceil(head.length / alignment) * alignment;
  const out = Buffer.alloc(dataStart + off);
  head.copy(out);
  let at = dataStart;
  for (const t of tensors) {
    Buffer.from(t.bytes).copy(out, at);
    at += Math.ceil(t.bytes.length / alignment) * alignment;
  }
  return out;
}

/** convert_hf_to_gguf.py's LlamaModel.permute on rows, written out with reshape index arithmetic. */
function llamaCppPermute(data: Float32Array, rows: number, nHead: number): Float32Array {
  const cols = data.length / rows,
    hd = rows / nHead,
    half = hd / 2;
  const out = new Float32Array(data.length);
  // reshape(n_head, 2, half, cols).swapaxes(1, 2): out[h][i][j] = in[h][j][i]
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        out.set(
          data.subarray((h * hd + j * half + i) * cols, (h * hd + j * half + i + 1) * cols),
          (h * hd + i * 2 + j) * cols,
        );
      }
  return out;
}

const variants = {
  llama: tinyConfig(),
  'llama tied': tinyConfig({ tieEmbeddings: true, nKvHeads: 4 }),
  qwen2: tinyConfig({ arch: 'qwen2', qkvBias: true, tieEmbeddings: true, ropeTheta: 1000000, normEps: 1e-6 }),
  qwen3: tinyConfig({ arch: 'qwen3', qkNorm: true, headDim: 8, ropeTheta: 1000000, normEps: 1e-6 }),
};

for (const [label, config] of Object.entries(variants)) {
  test(`GGUF save -> load round trip is exact (${label})`, () =>
    withTempDir((dir) => {
      const weights = randomWeights(config, 11);
      const path = join(dir, 'm.gguf');
      writeGgufModel(path, { config, weights });
      const back = loadModelWeights(path);
      assert.equal(back.format, 'gguf');
      assert.deepEqual(back.config, config);
      assert.deepEqual(assertSameWeights(back.weights, weights), []);
    }));
}

test('llama GGUF stores q/k rows permuted as convert_hf_to_gguf.py does, and the reader undoes it', () =>
  withTempDir((dir) => {
    const config = variants.llama;
    const weights = randomWeights(config, 5);
    const path = join(dir, 'm.gguf');
    writeGgufModel(path, { config, weights });
    const file = readGgufFile(path);
    const fd = openSync(path, 'r');
    try {
      const info = (n: string) => file.tensors.find((t) => t.name === n)!;
      assert.deepEqual(info('blk.1.attn_k.weight').ne, [16, 8]);
      const q = readGgufTensor(fd, file, info('blk.1.attn_q.weight'));
      const k = readGgufTensor(fd, file, info('blk.1.attn_k.weight'));
      const v = readGgufTensor(fd, file, info('blk.1.attn_v.weight'));
      assert.deepEqual(q, llamaCppPermute(weights.get('model.layers.1.self_attn.q_proj.weight')!.data, 16, 4));
      assert.deepEqual(k, llamaCppPermute(weights.get('model.layers.1.self_attn.k_proj.weight')!.data, 8, 2));
      assert.deepEqual(v, weights.get('model.layers.1.self_attn.v_proj.weight')!.data);
    } finally {
      closeSync(fd);
    }
    assert.equal(file.metadata.get('llama.attention.head_count_kv')!.value, 2);
    assert.equal(file.metadata.get('general.architecture')!.value, 'llama');
  }));

test('F16 GGUF keeps norms in F32 and rounds matrices to half precision', () =>
  withTempDir((dir) => {
    const config = variants.qwen3;
    const weights = randomWeights(config, 2);
    const path = join(dir, 'h.gguf');
    writeGgufModel(path, { config, weights }, { dtype: 'F16' });
    const file = readGgufFile(path);
    assert.equal(file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.type, 1);
    assert.equal(file.tensors.find((t) => t.name === 'blk.0.attn_q_norm.weight')!.type, 0);
    const back = readGgufModel(path).weights;
    assert.deepEqual(back.get('model.norm.weight'), weights.get('model.norm.weight'));
    const a = back.get('model.layers.0.mlp.up_proj.weight')!.data,
      b = weights.get('model.layers.0.mlp.up_proj.weight')!.data;
    b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) <= 2 ** -11 * Math.max(Math.abs(x), 2 ** -14)));
  }));

test('hand-made GGUF: metadata, custom alignment, Q8_0 dequantization, and unsupported tensor types', () =>
  withTempDir((dir) => {
    const q8 = Buffer.alloc(34);
    q8.writeUInt16LE(0x3800, 0); // scale 0.5
    for (let i = 0; i < 32; i++) q8.writeInt8(i - 16, 2 + i);
    const path = join(dir, 'h.gguf');
    writeFileSync(
      path,
      handMadeGguf(
        [
          ['general.alignment', 'u32', 64],
          ['general.architecture', 'str', 'llama'],
          ['x.eps', 'f32', 1e-5],
          ['tok', 'strs', ['a', 'ü', '']],
        ],
        [
          { name: 'f', ne: [3], type: 0, bytes: new Uint8Array(Float32Array.of(1, 2, 3).buffer) },
          { name: 'q', ne: [32, 1], type: 8, bytes: q8 },
          { name: 'q4', ne: [32], type: 2, bytes: new Uint8Array(18) },
        ],
        64,
      ),
    );
    const file = readGgufFile(path);
    assert.equal(file.version, 3);
    assert.equal(file.alignment, 64);
    assert.equal(file.dataStart % 64, 0);
    assert.deepEqual(file.metadata.get('tok'), {
      type: GgufType.ARRAY,
      itemType: GgufType.STRING,
      value: ['a', 'ü', ''],
    });
    assert.equal(file.metadata.get('x.eps')!.value, Math.fround(1e-5));
    const fd = openSync(path, 'r');
    try {
      assert.deepEqual([...readGgufTensor(fd, file, file.tensors[0])], [1, 2, 3]);
      assert.deepEqual(
        [...readGgufTensor(fd, file, file.tensors[1])],
        Array.from({ length: 32 }, (_, i) => (i - 16) * 0.5),
      );
      assert.throws(
        () => readGgufTensor(fd, file, file.tensors[2]),
        (e: unknown) => e instanceof GrpoError && /Q4_0/.test(e.message) && /--outtype/.test(e.message),
      );
    } finally {
      closeSync(fd);
    }
  }));

test('generic GGUF writer round-trips every metadata value type', () =>
  withTempDir((dir) => {
    const meta = new Map<string, GgufEntry>([
      ['u8', { type: GgufType.UINT8, value: 200 }],
      ['i8', { type: GgufType.INT8, value: -3 }],
      ['u16', { type: GgufType.UINT16, value: 60000 }],
      ['i16', { type: GgufType.INT16, value: -300 }],
      ['u32', { type: GgufType.UINT32, value: 4000000000 }],
      ['i32', { type: GgufType.INT32, value: -7 }],
      ['f32', { type: GgufType.FLOAT32, value: 0.5 }],
      ['b', { type: GgufType.BOOL, value: true }],
      ['s', { type: GgufType.STRING, value: 'héllo' }],
      ['u64', { type: GgufType.UINT64, value: 2 ** 40 }],
      ['i64', { type: GgufType.INT64, value: -(2 ** 40) }],
      ['f64', { type: GgufType.FLOAT64, value: Math.PI }],
      ['af', { type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: [1.5, -2] }],
      ['ai', { type: GgufType.ARRAY, itemType: GgufType.INT32, value: [3, -4] }],
      ['ab', { type: GgufType.ARRAY, itemType: GgufType.BOOL, value: [true, false] }],
    ]);
    const path = join(dir, 'meta.gguf');
    writeGguf(path, meta, []);
    const back = readGgufFile(path).metadata;
    for (const [k, e] of meta) {
      const got = back.get(k)!;
      assert.equal(got.type, e.type, k);
      assert.deepEqual(ArrayBuffer.isView(got.value) ? Array.from(got.value as Float32Array) : got.value, e.value, k);
    }
  }));

test('GGUF errors name the problem: unsupported architecture, RoPE scaling, bad magic', () =>
  withTempDir((dir) => {
    const p = join(dir, 'a.gguf');
    writeFileSync(p, handMadeGguf([['general.architecture', 'str', 'gemma2']], []));
    assert.throws(() => readGgufModel(p), /architecture 'gemma2' is not supported; supported: llama, qwen2, qwen3/);
    writeFileSync(
      p,
      handMadeGguf(
        [
          ['general.architecture', 'str', 'llama'],
          ['llama.rope.scaling.type', 'str', 'yarn'],
        ],
        [],
      ),
    );
    assert.throws(() => readGgufModel(p), /RoPE scaling \(yarn\)/);
    writeFileSync(p, 'GGML not really');
    assert.throws(() => readGgufFile(p), /not a GGUF file/);
  }));
