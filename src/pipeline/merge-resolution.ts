/**
 * Whether a merged adapter survives the merged model's dtype. A LoRA update is small (often ~1e-4 on weights of
 * ~1e-2), and a 16-bit float keeps 8 (BF16) or 11 (F16) significant bits: a change below half a unit in the last
 * place of the weight it is added to rounds back to the base's value, so what the adapter learned is lost in the
 * merged file while it lives on in the adapter. Counted over every weight the adapter changes.
 */
import type { StoredDtype } from '../model/io/stored-dtype.ts';

/** Significand bits after the leading one, and the exponent of the smallest normal number. */
const FORMATS: Record<Exclude<StoredDtype, 'F32'>, { mantissa: number; minExp: number }> = {
  BF16: { mantissa: 7, minExp: -126 },
  F16: { mantissa: 10, minExp: -14 },
};

/** Half an ulp of `dtype` at each float32 exponent field (0..255): the smallest change that survives rounding. */
function halfUlpTable(dtype: Exclude<StoredDtype, 'F32'>): Float64Array {
  const { mantissa, minExp } = FORMATS[dtype];
  return Float64Array.from({ length: 256 }, (_, field) => 2 ** (Math.max(field - 127, minExp) - mantissa - 1));
}

export class MergeResolution {
  /** weights the adapter changes (merged ≠ base in f32) */
  changed = 0;
  /** of those, the ones whose change is below half an ulp of the output dtype at the base weight's magnitude */
  lost = 0;
  private readonly halfUlp: Float64Array | null;

  constructor(readonly dtype: StoredDtype) {
    this.halfUlp = dtype === 'F32' ? null : halfUlpTable(dtype);
  }

  add(base: Float32Array, merged: Float32Array): void {
    const bits = new Uint32Array(base.buffer, base.byteOffset, base.length);
    for (let i = 0; i < base.length; i++) {
      const delta = merged[i] - base[i];
      if (delta === 0) continue;
      this.changed++;
      if (this.halfUlp && Math.abs(delta) < this.halfUlp[(bits[i] >>> 23) & 0xff]) this.lost++;
    }
  }

  /** One warning line when most of the adapter's changes round away, else null. */
  warning(baseDtype: StoredDtype): string | null {
    if (this.changed === 0 || this.lost * 2 <= this.changed) return null;
    const pct = Math.round((100 * this.lost) / this.changed);
    return `warning: ${pct}% of the ${this.changed} weights the adapter changes move by less than half a ${this.dtype} step at their size, so they round back to the base's value in the merged ${this.dtype} weights and most of what the adapter learned is lost; merge with --dtype f32 to keep it${baseDtype === 'F32' ? ' (the base is F32)' : ''}, or use the adapter unmerged (--adapter)`;
  }
}
