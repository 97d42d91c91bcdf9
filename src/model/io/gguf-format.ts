import { dequantizeQ8_0 } from './q8-0.ts';
import { GrpoError } from '../../errors.ts';
import { assertLittleEndianHost, bytesOf, fileSize, readExact, withOpenFile } from './binary-file.ts';
import { bf16ToF32, f16ToF32 } from './float-convert.ts';

/**
 * GGUF container (ggml/include/gguf.h, gguf-py): magic "GGUF", uint32 version (2 or 3), uint64 tensor count,
 * uint64 metadata count, metadata key/value pairs, tensor infos (name, n_dims, ne[] innermost first, ggml
 * type, offset), padding to `general.alignment` (default 32), then tensor data at those offsets.
 * Strings are uint64 length + UTF-8 bytes; arrays are uint32 item type + uint64 count + items.
 */

export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor types this reader converts to float32, plus names of the others for error messages. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  BF16 = 30,
}
const ggmlTypeNames: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};
export const ggmlTypeName = (t: number): string => ggmlTypeNames[t] ?? `type ${t}`;

/** A metadata value: numbers (64-bit ints as JS numbers), booleans, strings, or arrays of those. */
export type GgufValue = number | boolean | string | GgufValue[] | Float32Array | Int32Array | Uint32Array;
export interface GgufEntry {
  type: GgufType;
  value: GgufValue;
  itemType?: GgufType;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml dims, innermost first: the Hugging Face shape reversed */
  ne: number[];
  type: number;
  /** byte offset relative to the data section */
  offset: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufEntry>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute byte offset of the data section */
  dataStart: number;
}

class NeedMoreBytes extends Error {}

/** Little-endian cursor over the file head; runs out -> NeedMoreBytes so the caller re-reads a larger head. */
class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): number {
    if (this.pos + n > this.buf.length) throw new NeedMoreBytes();
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8() {
    return this.buf.readUInt8(this.need(1));
  }
  i8() {
    return this.buf.readInt8(this.need(1));
  }
  u16() {
    return this.buf.readUInt16LE(this.need(2));
  }
  i16() {
    return this.buf.readInt16LE(this.need(2));
  }
  u32() {
    return this.buf.readUInt32LE(this.need(4));
  }
  i32() {
    return this.buf.readInt32LE(this.need(4));
  }
  f32() {
    return this.buf.readFloatLE(this.need(4));
  }
  f64() {
    return this.buf.readDoubleLE(this.need(8));
  }
  u64() {
    return Number(this.buf.readBigUInt64LE(this.need(8)));
  }
  i64() {
    return Number(this.buf.readBigInt64LE(this.need(8)));
  }
  str() {
    const n = this.u64();
    const p = this.need(n);
    return this.buf.toString('utf8', p, p + n);
  }
  /** n little-endian 4-byte items copied out (the head buffer is not 4-byte aligned in general) */
  words(n: number): ArrayBuffer {
    const p = this.need(4 * n);
    return this.buf.buffer.slice(this.buf.byteOffset + p, this.buf.byteOffset + p + 4 * n) as ArrayBuffer;
  }
}

function readScalar(c: Cursor, type: GgufType): number | boolean | string {
  switch (type) {
    case GgufType.UINT8:
      return c.u8();
    case GgufType.INT8:
      return c.i8();
    case GgufType.UINT16:
      return c.u16();
    case GgufType.INT16:
      return c.i16();
    case GgufType.UINT32:
      return c.u32();
    case GgufType.INT32:
      return c.i32();
    case GgufType.FLOAT32:
      return c.f32();
    case GgufType.BOOL:
      return c.u8() !== 0;
    case GgufType.STRING:
      return c.str();
    case GgufType.UINT64:
      return c.u64();
    case GgufType.INT64:
      return c.i64();
    case GgufType.FLOAT64:
      return c.f64();
    default:
      throw new GrpoError('io', `GGUF metadata has unknown value type ${type}`);
  }
}

function readValue(c: Cursor, type: GgufType): { value: GgufValue; itemType?: GgufType } {
  if (type !== GgufType.ARRAY) return { value: readScalar(c, type) };
  const itemType = c.u32() as GgufType;
  const n = c.u64();
  // Vocabulary scores / token types are large numeric arrays: keep them typed.
  if (itemType === GgufType.FLOAT32) return { value: new Float32Array(c.words(n)), itemType };
  if (itemType === GgufType.INT32) return { value: new Int32Array(c.words(n)), itemType };
  if (itemType === GgufType.UINT32) return { value: new Uint32Array(c.words(n)), itemType };
  const items: GgufValue[] = new Array(n);
  for (let i = 0; i < n; i++) items[i] = readValue(c, itemType).value;
  return { value: items, itemType };
}

function parseHead(buf: Buffer, path: string): Omit<GgufFile, 'path'> {
  const c = new Cursor(buf);
  if (c.u32() !== GGUF_MAGIC) throw new GrpoError('io', `${path} is not a GGUF file (bad magic)`);
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    throw new GrpoError(
      'io',
      `${path}: GGUF version ${version} is not supported (expected 2 or 3${version > 0xffff ? '; big-endian GGUF files are not supported' : ''})`,
    );
  }
  const nTensors = c.u64();
  const nKv = c.u64();
  const metadata = new Map<string, GgufEntry>();
  for (let i = 0; i < nKv; i++) {
    const key = c.str();
    const type = c.u32() as GgufType;
    metadata.set(key, { type, ...readValue(c, type) });
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.str();
    const nDims = c.u32();
    const ne = Array.from({ length: nDims }, () => c.u64());
    tensors.push({ name, ne, type: c.u32(), offset: c.u64() });
  }
  const alignment = (metadata.get('general.alignment')?.value as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  return { version, metadata, tensors, alignment, dataStart };
}

/** Parse header, metadata and tensor infos; tensor data stays on disk (read with readGgufTensor). */
export function readGgufFile(path: string): GgufFile {
  const size = fileSize(path);
  return withOpenFile(path, 'r', (fd) => {
    // Metadata (vocabularies) can be many MB; read a head and grow it until the parse fits.
    for (let want = Math.min(size, 4 << 20); ; want = Math.min(size, want * 4)) {
      const head = Buffer.alloc(want);
      readExact(fd, head, 0, path);
      try {
        return { path, ...parseHead(head, path) };
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        if (want === size)
          throw new GrpoError('io', `${path}: GGUF header runs past the end of the file; the file is truncated`);
      }
    }
  });
}

function elementCount(info: GgufTensorInfo): number {
  return info.ne.reduce((a, b) => a * b, 1);
}

/** Byte size of a tensor's data for the types we read. */
function dataBytes(info: GgufTensorInfo, path: string): number {
  const n = elementCount(info);
  switch (info.type) {
    case GgmlType.F32:
      return 4 * n;
    case GgmlType.F16:
    case GgmlType.BF16:
      return 2 * n;
    case GgmlType.Q8_0:
      return (n / 32) * 34;
    default:
      throw new GrpoError(
        'dtype',
        `${path}: tensor '${info.name}' is ${ggmlTypeName(info.type)}; grpo-ts reads F32, F16, BF16 and Q8_0 GGUF tensors — convert the model with llama.cpp's convert_hf_to_gguf.py --outtype f32, f16 or bf16`,
      );
  }
}

/** One tensor's data as float32, in ggml element order (which is HF row-major order for the reversed shape). */
export function readGgufTensor(fd: number, file: GgufFile, info: GgufTensorInfo): Float32Array {
  assertLittleEndianHost();
  const n = elementCount(info);
  const position = file.dataStart + info.offset;
  const out = new Float32Array(n);
  const bytes = dataBytes(info, file.path);
  if (info.type === GgmlType.F32) {
    readExact(fd, bytesOf(out), position, file.path);
  } else if (info.type === GgmlType.F16 || info.type === GgmlType.BF16) {
    const half = new Uint16Array(n);
    readExact(fd, bytesOf(half), position, file.path);
    (info.type === GgmlType.F16 ? f16ToF32 : bf16ToF32)(half, out);
  } else {
    const raw = new Uint8Array(bytes);
    readExact(fd, raw, position, file.path);
    dequantizeQ8_0(raw, out);
  }
  return out;
}

// --- typed metadata getters (one error style for a missing or mistyped key) ---

export function ggufGet(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key)?.value;
}

export function ggufNumber(file: GgufFile, key: string, fallback?: number): number {
  const v = ggufGet(file, key);
  if (typeof v === 'number') return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new GrpoError(
    'io',
    `${file.path}: GGUF metadata '${key}' ${v === undefined ? 'is missing' : 'is not a number'}`,
  );
}

export function ggufString(file: GgufFile, key: string, fallback?: string): string {
  const v = ggufGet(file, key);
  if (typeof v === 'string') return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new GrpoError(
    'io',
    `${file.path}: GGUF metadata '${key}' ${v === undefined ? 'is missing' : 'is not a string'}`,
  );
}

/** float32 metadata (eps, theta) as the shortest decimal that rounds to the same float32 (1e-5, not 9.99e-6). */
export function shortestFloat32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}
