import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
  existsSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDirAtomic, writeFileAtomic, readableDir, withStagedFile } from '../../src/util/atomic.ts';
import { GrpoError } from '../../src/errors.ts';

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

test('a full disk while writing a folder is one io error saying the previous version is intact; nothing is left staged', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'atomic-full-'));
  try {
    const dir = path.join(root, 'checkpoint');
    writeDirAtomic(dir, (t) => writeFileSync(path.join(t, 'a'), 'kept'));
    const full = () =>
      writeDirAtomic(dir, (t) => {
        writeFileSync(path.join(t, 'a'), 'half');
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      });
    assert.throws(
      full,
      (e: unknown) =>
        e instanceof GrpoError &&
        e.code === 'io' &&
        e.message.includes(
          `the disk is full (no space left on the device) writing ${dir}: the previous ${dir} is intact`,
        ) &&
        e.message.includes(`grpo train --resume ${dir}`),
    );
    assert.equal(readFileSync(path.join(dir, 'a'), 'utf8'), 'kept');
    assert.deepEqual(readdirSync(root), ['checkpoint']);
    assert.throws(
      () =>
        withStagedFile(path.join(root, 'new.json'), () => {
          throw Object.assign(new Error('EDQUOT: disk quota exceeded, write'), { code: 'EDQUOT' });
        }),
      (e: unknown) =>
        e instanceof GrpoError && /quota exceeded\) writing .*new\.json: nothing was written/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('staging folders a killed process left are swept before the next write; a live process’s is kept', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'atomic-sweep-'));
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    const dir = path.join(root, 'checkpoint');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const pid of [dead, String(sleeper.pid)]) {
      mkdirSync(path.join(root, `.checkpoint.tmp-${pid}-1`, 'model'), { recursive: true });
      writeFileSync(path.join(root, `.checkpoint.tmp-${pid}-1`, 'model', 'w'), 'x'.repeat(1000));
    }
    mkdirSync(path.join(root, '.other.tmp-1-1'));
    writeDirAtomic(dir, (t) => writeFileSync(path.join(t, 'a'), '1'));
    assert.deepEqual(readdirSync(root).sort(), [
      '.checkpoint.tmp-' + sleeper.pid + '-1',
      '.other.tmp-1-1',
      'checkpoint',
    ]);
  } finally {
    sleeper.kill();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a real full file system (a 3 MB tmpfs, where one can be mounted): the run’s checkpoint write fails in one line', (t) => {
  const mount = mkdtempSync(path.join(tmpdir(), 'atomic-tmpfs-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]).status !== 0) {
    rmSync(mount, { recursive: true, force: true });
    t.skip('mounting a tmpfs needs root; the simulated full disk above covers the error');
    return;
  }
  try {
    const dir = path.join(mount, 'checkpoint');
    writeDirAtomic(dir, (tmp) => writeFileSync(path.join(tmp, 'w'), Buffer.alloc(1_200_000, 1)));
    assert.throws(
      () => writeDirAtomic(dir, (tmp) => writeFileSync(path.join(tmp, 'w'), Buffer.alloc(2_500_000, 2))),
      (e: unknown) => e instanceof GrpoError && /the disk is full .* the previous .* is intact/.test(e.message),
    );
    assert.equal(readFileSync(path.join(dir, 'w'))[0], 1);
    assert.deepEqual(readdirSync(mount), ['checkpoint']);
  } finally {
    spawnSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});
