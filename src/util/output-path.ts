/**
 * Output paths are checked before the work that fills them: a long evaluation or training run must not end in
 * a crash at its last line because a folder is missing or read-only.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { GrpoError } from '../errors.ts';

/** Create `dir` (and its parents) if needed and make sure it can be written to; `what` names it in the error. */
export function prepareOutputDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new GrpoError('io', `cannot write ${what} to ${dir} (${reason}): choose a folder you can write to`);
  }
}

/** The folder of `file`, prepared as by prepareOutputDir. */
export function prepareOutputFile(file: string, what: string): void {
  prepareOutputDir(path.dirname(path.resolve(file)), what);
}
