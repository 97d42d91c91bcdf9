/** Reading a YAML (or JSON) config file and applying `--a.b value` flags to it, the same for every command. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import { GrpoError } from '../errors.ts';

/** A config file's mapping, and its folder (paths inside a training-free config resolve against it). */
export function readConfigFile(file: string): { raw: Record<string, unknown>; baseDir: string } {
  if (!existsSync(file)) throw new GrpoError('config', `config file ${file} does not exist`);
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8')) ?? {};
  } catch (e) {
    throw new GrpoError('config', `${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isSection(raw))
    throw new GrpoError(
      'config',
      `${file} must hold a mapping of keys (section: { key: value }), not a ${Array.isArray(raw) ? 'list' : typeof raw}`,
    );
  return { raw, baseDir: dirname(resolve(file)) };
}

export function isSection(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parse `--a.b value` pairs (values read as YAML scalars: 4, 0.5, true, null, [a, b], text). */
export function parseOverrides(args: readonly string[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--') || a.length < 3) throw new GrpoError('config', `expected --key value, got '${a}'`);
    const eq = a.indexOf('=');
    const key = a.slice(2, eq > 0 ? eq : undefined);
    let raw: string;
    if (eq > 0) raw = a.slice(eq + 1);
    // a bare flag (last, or followed by another --key) is a boolean switched on: --overwrite, --progress
    else if (i + 1 >= args.length || args[i + 1].startsWith('--')) raw = 'true';
    else raw = args[++i];
    // `--k null` unsets a key (as null in the file); an empty value stays the empty string
    const value: unknown = YAML.parse(raw);
    out.push([key, value === null && raw.trim() === '' ? raw : value]);
  }
  return out;
}

/** Set dotted `key`, creating the sections on the way. */
export function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === undefined) cur[p] = {};
    if (!isSection(cur[p])) throw new GrpoError('config', `cannot set '${key}': '${p}' is not a section`);
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = value;
}

/** Remove dotted `key`; a section it leaves empty goes too (so a renamed key leaves no empty old section behind). */
export function deletePath(obj: Record<string, unknown>, key: string): void {
  const [head, ...rest] = key.split('.');
  if (rest.length === 0) {
    delete obj[head];
    return;
  }
  const child = obj[head];
  if (!isSection(child)) return;
  deletePath(child, rest.join('.'));
  if (Object.keys(child).length === 0) delete obj[head];
}
