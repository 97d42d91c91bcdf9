/**
 * Half-precision <-> float32 conversion in tight loops over typed arrays. Checkpoints store F16/BF16; the
 * model holds float32 (see host-tensor.ts). Assumes a little-endian host (checked in binary-file.ts).
 */

let halfToFloatTable: Float32Array | undefined;

function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero / subnormal
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** All 65536 F16 values as float32: one table lookup per element beats bit twiddling in JS. */
function halfTable(): Float32Array {
  if (!halfToFloatTable) {
    halfToFloatTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfToFloatTable[h] = halfBitsToNumber(h);
  }
  return halfToFloatTable;
}

export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const table = halfTable();
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = table[src[i]];
}

/** BF16 is the top half of a float32, so widening is a shift. */
export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = src[i] << 16;
}

/** float32 -> BF16 with round-to-nearest-even (what torch does); NaN stays a quiet NaN. */
export function f32ToBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) dst[i] = (x >>> 16) | 0x40;
    else dst[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 -> F16 bits with round-to-nearest-even, overflow to infinity, subnormals kept. */
export function floatToHalfBits(v: number): number {
  scratchF32[0] = v;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);
  if (abs >= 0x47800000) return sign | 0x7c00; // >= 65536: beyond the largest half even after rounding
  if (abs < 0x38800000) {
    // below the smallest normal half (2^-14): encode as a subnormal, i.e. round(|v| * 2^24)
    const a = Math.abs(scratchF32[0]) * 16777216;
    let r = Math.floor(a);
    const frac = a - r;
    if (frac > 0.5 || (frac === 0.5 && r & 1)) r++;
    return sign | r;
  }
  let h = ((((abs >>> 23) - 112) << 10) | ((abs >>> 13) & 0x3ff)) >>> 0;
  const rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is correct rounding
  return sign | h;
}

export function f32ToF16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = floatToHalfBits(src[i]);
}
