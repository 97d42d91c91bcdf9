/**
 * Host float32 ↔ device tensors of any storage type: the one place where weights are converted on their way to
 * and from ggml (BF16 by round-to-nearest-even, Q8_0 by ggml's reference quantiser).
 */
import type { Tensor } from '../engine/tensor.ts';
import { bf16ToF32, f32ToBf16, f16ToF32, f32ToF16 } from './io/float-convert.ts';
import { dequantizeQ8_0, quantizeQ8_0 } from './io/q8-0.ts';
import { GrpoError } from '../errors.ts';

/** Write float32 values into t, converting to its storage type. */
export function writeHost(t: Tensor, data: Float32Array): void {
  if (data.length !== t.numel)
    throw new GrpoError('shape', `writing ${data.length} values into ${t.describe()}, which holds ${t.numel}`);
  switch (t.dtype) {
    case 'f32':
      return t.write(data);
    case 'bf16': {
      const h = new Uint16Array(data.length);
      f32ToBf16(data, h);
      return t.write(h);
    }
    case 'f16': {
      const h = new Uint16Array(data.length);
      f32ToF16(data, h);
      return t.write(h);
    }
    case 'q8_0': {
      const q = new Uint8Array(t.nbytes);
      quantizeQ8_0(data, q);
      return t.write(q);
    }
    default:
      throw new GrpoError('shape', `cannot write float values into ${t.describe()}`);
  }
}

/** Read t as float32 values, whatever its storage type. */
export function readHost(t: Tensor): Float32Array {
  if (t.dtype === 'f32') return t.readF32();
  const out = new Float32Array(t.numel);
  const raw = t.readBytes(new Uint8Array(t.nbytes));
  switch (t.dtype) {
    case 'bf16':
      bf16ToF32(new Uint16Array(raw.buffer), out);
      break;
    case 'f16':
      f16ToF32(new Uint16Array(raw.buffer), out);
      break;
    case 'q8_0':
      dequantizeQ8_0(raw, out);
      break;
    default:
      throw new GrpoError('shape', `cannot read ${t.describe()} as float values`);
  }
  return out;
}

/** The transpose of a row-major [rows, cols] matrix, blocked so both sides stay in cache. */
export function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c];
    }
  }
  return out;
}
