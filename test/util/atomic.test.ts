import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDirAtomic, writeFileAtomic, readableDir } from '../../src/util/atomic.ts';

test('writeDirAtomic replaces a folder whole, and a failed fill leaves the old one untouched', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'atomic-'));
  try {
    const dir = path.join(root, 'ckpt');
    writeDirAtomic(dir, (t) => writeFileSync(path.join(t, 'a'), '1'));
    writeDirAtomic(dir, (t) => writeFileSync(path.join(t, 'a'), '2'));
    assert.equal(readFileSync(path.join(dir, 'a'), 'utf8'), '2');
    assert.throws(
      () =>
        writeDirAtomic(dir, (t) => {
          writeFileSync(path.join(t, 'a'), '3');
          throw new Error('disk full');
        }),
      /disk full/,
    );
    assert.equal(readFileSync(path.join(dir, 'a'), 'utf8'), '2');
    assert.deepEqual(readdirSync(root), ['ckpt'], 'no staging leftovers');
    // a crash between the two renames leaves only <dir>.old: readableDir finds it
    renameSync(dir, `${dir}.old`);
    assert.equal(readableDir(dir), `${dir}.old`);
    writeFileAtomic(path.join(root, 'f.txt'), 'x');
    assert.equal(readFileSync(path.join(root, 'f.txt'), 'utf8'), 'x');
    assert.ok(!existsSync(dir) && readableDir(path.join(root, 'none')) === null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
