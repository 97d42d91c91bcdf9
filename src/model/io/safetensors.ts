import { GrpoError } from '../../errors.ts';
import { hostTensor, lazyHostTensor, numel, type HostTensor, type WeightMap } from '../host-tensor.ts';
import {
  assertLittleEndianHost,
  bytesOf,
  fileSize,
  readExact,
  withOpenFile,
  writeAll,
  streamFileAtomic,
} from './binary-file.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './float-convert.ts';

/**
 * safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw tensor bytes
 * (offsets relative to the end of the header). Spec: github.com/huggingface/safetensors (format section).
 */

export const readableSafetensorsDtypes = ['F32', 'F16', 'BF16'] as const;
export type SafetensorsWriteDtype = 'F32' | 'F16' | 'BF16';

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** absolute file offset where tensor data begins */
  dataStart: number;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const size = fileSize(path);
  return withOpenFile(path, 'r', (fd) => {
    const lenBytes = new Uint8Array(8);
    readExact(fd, lenBytes, 0, path);
    const headerLen = Number(Buffer.from(lenBytes).readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size || headerLen > 512 * 1024 * 1024) {
      throw new GrpoError(
        'io',
        `${path}: not a safetensors file (header length ${headerLen} does not fit a ${size}-byte file)`,
      );
    }
    const headerBytes = new Uint8Array(headerLen);
    readExact(fd, headerBytes, 8, path);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(Buffer.from(headerBytes).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new GrpoError('io', `${path}: safetensors header is not valid JSON (${(e as Error).message})`);
    }
    const dataStart = 8 + headerLen;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const e = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      if (typeof e?.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
        throw new GrpoError('io', `${path}: safetensors entry '${name}' lacks dtype/shape/data_offsets`);
      }
      const [begin, end] = e.data_offsets;
      const width = BYTES_PER_ELEMENT[e.dtype];
      if (width !== undefined && end - begin !== numel(e.shape) * width) {
        throw new GrpoError(
          'io',
          `${path}: tensor '${name}' has ${end - begin} bytes but ${e.dtype} [${e.shape.join(', ')}] needs ${numel(e.shape) * width}`,
        );
      }
      if (begin < 0 || end < begin || dataStart + end > size) {
        throw new GrpoError(
          'io',
          `${path}: tensor '${name}' data [${begin}, ${end}) lies outside the file; the file is truncated`,
        );
      }
      entries.set(name, { dtype: e.dtype, shape: e.shape, dataOffsets: [begin, end] });
    }
    return { entries, metadata, dataStart };
  });
}

function unsupportedDtype(path: string, name: string, dtype: string): GrpoError {
  return new GrpoError(
    'dtype',
    `${path}: tensor '${name}' has dtype ${dtype}; grpo-ts reads ${readableSafetensorsDtypes.join(', ')} safetensors (quantized or integer checkpoints are not supported) — re-save the model in bfloat16 or float32, e.g. model.to(torch.bfloat16).save_pretrained(dir)`,
  );
}

function readEntry(fd: number, path: string, name: string, e: SafetensorsEntry, dataStart: number): Float32Array {
  const n = numel(e.shape);
  const position = dataStart + e.dataOffsets[0];
  const data = new Float32Array(n);
  if (e.dtype === 'F32') {
    readExact(fd, bytesOf(data), position, path); // straight into the result, no copy
  } else if (e.dtype === 'F16' || e.dtype === 'BF16') {
    const half = new Uint16Array(n);
    readExact(fd, bytesOf(half), position, path);
    (e.dtype === 'F16' ? f16ToF32 : bf16ToF32)(half, data);
  } else {
    throw unsupportedDtype(path, name, e.dtype);
  }
  return data;
}

export interface ReadSafetensorsOptions {
  /**
   * read each tensor from the file when its `data` is accessed, not now: a model load then holds one tensor at a
   * time on the host. The file must stay in place while the map is used.
   */
  lazy?: boolean;
}

/** Read the tensors of one safetensors file (all, or those `want` accepts) as float32 host tensors. */
export function readSafetensors(
  path: string,
  want: (name: string) => boolean = () => true,
  opts: ReadSafetensorsOptions = {},
): WeightMap {
  assertLittleEndianHost();
  const header = readSafetensorsHeader(path);
  const out: WeightMap = new Map();
  for (const [name, e] of header.entries) {
    if (!want(name)) continue;
    if (!(readableSafetensorsDtypes as readonly string[]).includes(e.dtype))
      throw unsupportedDtype(path, name, e.dtype);
    if (opts.lazy)
      out.set(
        name,
        lazyHostTensor([...e.shape], () =>
          withOpenFile(path, 'r', (fd) => readEntry(fd, path, name, e, header.dataStart)),
        ),
      );
  }
  if (opts.lazy) return out;
  withOpenFile(path, 'r', (fd) => {
    for (const [name, e] of header.entries)
      if (want(name)) out.set(name, hostTensor([...e.shape], readEntry(fd, path, name, e, header.dataStart)));
  });
  return out;
}

export interface WriteSafetensorsOptions {
  dtype?: SafetensorsWriteDtype;
  /** string -> string pairs stored under __metadata__; `format: pt` is added (transformers requires it) */
  metadata?: Record<string, string>;
}

/**
 * Write tensors (in the given order) to one safetensors file, atomically. Each tensor's `data` is read once, when
 * its bytes are written: lazy tensors (read from the device on access) stream through one at a time.
 */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, HostTensor]>,
  opts: WriteSafetensorsOptions = {},
): void {
  assertLittleEndianHost();
  const dtype = opts.dtype ?? 'F32';
  const width = dtype === 'F32' ? 4 : 2;
  const list = [...tensors];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...opts.metadata } };
  let offset = 0;
  for (const [name, t] of list) {
    const bytes = numel(t.shape) * width;
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // The reference implementation pads the JSON with spaces so tensor data starts 8-byte aligned.
  let json = JSON.stringify(header);
  const jsonLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonLen % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.length));
  streamFileAtomic(path, (fd) => {
    writeAll(fd, lenBytes);
    writeAll(fd, headerBytes);
    for (const [name, t] of list) {
      const data = t.data;
      if (data.length !== numel(t.shape))
        throw new GrpoError('shape', `tensor '${name}' has ${data.length} elements but shape [${t.shape.join(', ')}]`);
      if (dtype === 'F32') {
        writeAll(fd, bytesOf(data));
      } else {
        // converted a slice at a time: no second copy of a large tensor
        const convert = dtype === 'F16' ? f32ToF16 : f32ToBf16;
        const half = new Uint16Array(Math.min(data.length, 1 << 20));
        for (let i = 0; i < data.length; i += half.length) {
          const part = half.subarray(0, Math.min(half.length, data.length - i));
          convert(data.subarray(i, i + part.length), part);
          writeAll(fd, bytesOf(part));
        }
      }
    }
  });
}
