import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { withStagedFile } from '../../util/atomic.ts';
import { endianness } from 'node:os';
import { GrpoError } from '../../errors.ts';

/** Node's fs calls move at most ~2 GiB at once; stay well below. */
const CHUNK = 1 << 30;

/** Weight files are little-endian and we view their bytes as typed arrays directly. */
export function assertLittleEndianHost(): void {
  if (endianness() !== 'LE')
    throw new GrpoError('io', 'weight files are little-endian; grpo-ts needs a little-endian host (x86-64, arm64)');
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

/** Fill `target` with the bytes of `fd` starting at `position`; a short file is an error naming `path`. */
export function readExact(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(CHUNK, target.length - done), position + done);
    if (n === 0) {
      throw new GrpoError(
        'io',
        `${path}: unexpected end of file at byte ${position + done} (needed ${target.length} bytes from ${position}); the file is truncated or not in the expected format`,
      );
    }
    done += n;
  }
}

export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(CHUNK, bytes.length - done));
}

export function bytesOf(a: Float32Array | Uint16Array | Uint8Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function withOpenFile<T>(path: string, flags: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (e) {
    throw new GrpoError('io', `cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Stream a file through `write(fd)` into a staging file, then rename it over `path` (util/atomic.ts): a crash
 * never leaves a half-written file under the real name, and a multi-gigabyte file is never whole in memory.
 */
export function streamFileAtomic(path: string, write: (fd: number) => void): void {
  withStagedFile(path, (tmp) => withOpenFile(tmp, 'w', write));
}
