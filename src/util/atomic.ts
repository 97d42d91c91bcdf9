/**
 * Crash-safe writes: a file or folder is written under a temporary name and renamed into place, so readers
 * see the old version or the new one, never half of one (rename is atomic within a file system).
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GrpoError } from '../errors.ts';

let counter = 0;

/** A fresh hidden temporary path beside `path`. */
export function stagingPath(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${++counter}`);
}

/** Write `path` through `write(tempPath)` and rename the result into place. */
export function withStagedFile(path: string, write: (tempPath: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = stagingPath(path);
  try {
    write(temp);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw diskFull(e, path) ?? e;
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  withStagedFile(path, (temp) => writeFileSync(temp, data));
}

/**
 * Build a folder with `fill(tempDir)` and swap it in for `dir`. The previous version is kept as `<dir>.old` until
 * the new one is in place, so `readableDir` finds a complete folder after a crash at any point.
 */
export function writeDirAtomic(dir: string, fill: (tempDir: string) => void): void {
  sweepStaging(dir);
  const temp = stagingPath(dir);
  try {
    mkdirSync(temp, { recursive: true });
    fill(temp);
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    throw diskFull(e, dir) ?? e;
  }
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(temp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** `dir`, or its previous version if a crash interrupted writeDirAtomic between its two renames. */
export function readableDir(dir: string): string | null {
  if (existsSync(dir)) return dir;
  return existsSync(`${dir}.old`) ? `${dir}.old` : null;
}

/**
 * Staging folders of `dir` that a killed process left behind (a kill -9 mid-checkpoint; at real scale they hold
 * gigabytes): removed before the next write. A live process's staging folder is its write in progress, kept.
 */
function sweepStaging(dir: string): void {
  const parent = dirname(dir);
  const prefix = `.${basename(dir)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return; // no parent folder yet: nothing left behind
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it exists, as another user's
  }
}

/** A write that ran out of disk space, as one line: where, and that the previous version is untouched. */
function diskFull(e: unknown, path: string): GrpoError | null {
  // a file staged inside the folder ran out first: the folder's write is what failed
  const code = (((e as Error | null)?.cause ?? e) as NodeJS.ErrnoException | null)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return null;
  const kept = readableDir(path) ? `the previous ${path} is intact` : `nothing was written to ${path}`;
  const full = new GrpoError(
    'io',
    `the disk is full (${code === 'EDQUOT' ? 'quota exceeded' : 'no space left on the device'}) writing ${path}: ${kept}; free some space, then run again${basename(path) === 'checkpoint' && kept.endsWith('intact') ? ` (grpo train --resume ${path})` : ''}`,
  );
  full.cause = { code };
  return full;
}
