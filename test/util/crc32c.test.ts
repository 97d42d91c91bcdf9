import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../src/util/crc32c.ts';

test('CRC-32C matches the RFC 3720 (iSCSI) test vectors and the standard check value', () => {
  const range = (f: (i: number) => number) => Uint8Array.from({ length: 32 }, (_, i) => f(i));
  assert.equal(crc32c(range(() => 0)), 0x8a9136aa);
  assert.equal(crc32c(range(() => 0xff)), 0x62a8ab43);
  assert.equal(crc32c(range((i) => i)), 0x46dd794e);
  assert.equal(crc32c(range((i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});
