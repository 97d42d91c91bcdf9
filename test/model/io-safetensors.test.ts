import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostTensor } from '../../src/model/host-tensor.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/model/io/safetensors.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, floatToHalfBits } from '../../src/model/io/float-convert.ts';
import { GrpoError } from '../../src/errors.ts';
import { withTempDir, rng } from './io-fixtures.ts';

/** A safetensors file assembled by hand (independent of our writer). */
function handMadeSafetensors(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]): Buffer {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...entries.map((e) => Buffer.from(e.bytes))]);
}

test('f16 decoding of special values and exact round trip of every half', () => {
  const halves = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x8000, 0x3555);
  const out = new Float32Array(halves.length);
  f16ToF32(halves, out);
  assert.deepEqual([...out], [1, -2, 65504, 2 ** -24, Infinity, -Infinity, -0, Math.fround(0.333251953125)]);
  const nan = new Float32Array(1);
  f16ToF32(Uint16Array.of(0x7e00), nan);
  assert.ok(Number.isNaN(nan[0]));
  // every finite half survives f16 -> f32 -> f16
  const all = new Uint16Array(65536).map((_, i) => i);
  const wide = new Float32Array(65536);
  f16ToF32(all, wide);
  const back = new Uint16Array(65536);
  f32ToF16(wide, back);
  for (let h = 0; h < 65536; h++)
    if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) assert.equal(back[h], h, `half 0x${h.toString(16)}`);
});

test('f32 -> f16 rounds to nearest even and overflows to infinity', () => {
  assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00); // tie -> even (down)
  assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(floatToHalfBits(65519), 0x7bff);
  assert.equal(floatToHalfBits(65520), 0x7c00);
  assert.equal(floatToHalfBits(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal -> 0
  assert.equal(floatToHalfBits(3 * 2 ** -25), 0x0002);
});

test('bf16: widening is exact and narrowing rounds to nearest even', () => {
  const src = Float32Array.of(1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -7 + 2 ** -9, 3.4e38, NaN);
  const half = new Uint16Array(src.length);
  f32ToBf16(src, half);
  assert.deepEqual([...half.slice(0, 6)], [0x3f80, 0xc020, 0x3f80, 0x3f82, 0x3f81, 0x7f80]);
  const wide = new Float32Array(src.length);
  bf16ToF32(half, wide);
  assert.deepEqual([...wide.slice(0, 5)], [1, -2.5, 1, 1 + 2 ** -6, 1 + 2 ** -7]);
  assert.ok(Number.isNaN(wide[6]));
});

test('safetensors F32 write -> read is exact, with 8-byte aligned header and format metadata', () =>
  withTempDir((dir) => {
    const r = rng(3);
    const a = hostTensor([3, 5], Float32Array.from({ length: 15 }, r));
    const b = hostTensor([7], Float32Array.from({ length: 7 }, r));
    const path = join(dir, 'x.safetensors');
    writeSafetensors(
      path,
      [
        ['a', a],
        ['b.weight', b],
      ],
      { metadata: { note: 'hi' } },
    );
    const h = readSafetensorsHeader(path);
    assert.equal(h.dataStart % 8, 0);
    assert.deepEqual(h.metadata, { format: 'pt', note: 'hi' });
    assert.deepEqual(h.entries.get('a'), { dtype: 'F32', shape: [3, 5], dataOffsets: [0, 60] });
    const back = readSafetensors(path);
    assert.deepEqual([...back.keys()], ['a', 'b.weight']);
    assert.deepEqual(back.get('a'), a);
    assert.deepEqual(back.get('b.weight'), b);
  }));

test('safetensors BF16 write stores rounded values that read back as float32', () =>
  withTempDir((dir) => {
    const t = hostTensor([4], Float32Array.of(1, 1 + 2 ** -8, -3.140625, 1e-3));
    const path = join(dir, 'bf.safetensors');
    writeSafetensors(path, [['t', t]], { dtype: 'BF16' });
    assert.equal(readSafetensorsHeader(path).entries.get('t')!.dtype, 'BF16');
    const back = readSafetensors(path).get('t')!;
    assert.deepEqual([...back.data.slice(0, 3)], [1, 1, -3.140625]);
    assert.ok(Math.abs(back.data[3] - 1e-3) < 1e-5);
  }));

test('hand-made safetensors with F16 and BF16 tensors read as float32', () =>
  withTempDir((dir) => {
    const path = join(dir, 'h.safetensors');
    writeFileSync(
      path,
      handMadeSafetensors([
        { name: 'h', dtype: 'F16', shape: [2], bytes: new Uint8Array(Uint16Array.of(0x3c00, 0xc100).buffer) },
        { name: 'b', dtype: 'BF16', shape: [1, 2], bytes: new Uint8Array(Uint16Array.of(0x4049, 0xbf80).buffer) },
      ]),
    );
    const w = readSafetensors(path);
    assert.deepEqual([...w.get('h')!.data], [1, -2.5]);
    assert.deepEqual(w.get('b')!.shape, [1, 2]);
    assert.deepEqual([...w.get('b')!.data], [3.140625, -1]);
  }));

test('unsupported dtypes and truncated files are clear GrpoErrors', () =>
  withTempDir((dir) => {
    const path = join(dir, 'i.safetensors');
    writeFileSync(path, handMadeSafetensors([{ name: 'ids', dtype: 'I64', shape: [1], bytes: new Uint8Array(8) }]));
    assert.throws(
      () => readSafetensors(path),
      (e: unknown) => e instanceof GrpoError && /I64/.test(e.message) && /F32, F16, BF16/.test(e.message),
    );
    const good = join(dir, 'g.safetensors');
    writeSafetensors(good, [['a', hostTensor([64])]]);
    const bytes = readFileSync(good);
    writeFileSync(good, bytes.subarray(0, bytes.length - 10));
    assert.throws(
      () => readSafetensors(good),
      (e: unknown) => e instanceof GrpoError && /outside the file|truncated/.test(e.message),
    );
    writeFileSync(join(dir, 'junk.safetensors'), 'not a safetensors file at all');
    assert.throws(() => readSafetensors(join(dir, 'junk.safetensors')), GrpoError);
  }));
