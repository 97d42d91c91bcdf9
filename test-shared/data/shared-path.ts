// Where the shared data lives: ../shared/data beside the repo, or $GRPO_SHARED_DATA.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_DATA = process.env.GRPO_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');

export function sharedFile(relative: string): string {
  const p = path.join(SHARED_DATA, relative);
  if (!existsSync(p))
    throw new Error(`shared data file missing: ${p} (set GRPO_SHARED_DATA to the shared data folder)`);
  return p;
}

/** Reads a JSONL file with plain JSON.parse (independent of the loader under test). */
export function readJsonl(relative: string): Record<string, unknown>[] {
  return readFileSync(sharedFile(relative), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
