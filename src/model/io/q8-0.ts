/**
 * Q8_0, ggml's 8-bit block format: blocks of 32 values, each an F16 scale d then 32 int8 q, value = d·q.
 * Quantisation is ggml's reference (quantize_row_q8_0_ref): d = max|x|/127, q = round(x/d), so a base quantised
 * here is bit-identical to one quantised by ggml or llama.cpp.
 */
import { f16ToF32, floatToHalfBits } from './float-convert.ts';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

export function q8_0Bytes(n: number): number {
  return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

export function quantizeQ8_0(src: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i0 = 0, b = 0; i0 < src.length; i0 += Q8_0_BLOCK, b += Q8_0_BLOCK_BYTES) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(src[i0 + i]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    view.setUint16(b, floatToHalfBits(d), true);
    // C roundf: half away from zero
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const x = Math.fround(src[i0 + i] * id);
      view.setInt8(b + 2 + i, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
}

export function dequantizeQ8_0(raw: Uint8Array, out: Float32Array): void {
  const half = new Uint16Array(1);
  const scale = new Float32Array(1);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let b = 0, o = 0; o < out.length; b += Q8_0_BLOCK_BYTES) {
    half[0] = view.getUint16(b, true);
    f16ToF32(half, scale);
    for (let i = 0; i < Q8_0_BLOCK; i++) out[o++] = scale[0] * view.getInt8(b + 2 + i);
  }
}
