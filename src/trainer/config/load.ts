/**
 * Read a YAML run config, apply `--a.b value` overrides, validate, and report the first problem as one line
 * that names the key (with a suggestion for a misspelt one).
 */
import { readFileSync, existsSync } from 'node:fs';
import YAML from 'yaml';
import type { z } from 'zod';
import { trainConfigSchema, type TrainConfig } from './schema.ts';
import { GrpoError } from '../../errors.ts';
import { closestKey } from '../../util/edit-distance.ts';

/** Parse `--a.b value` pairs (values read as YAML scalars: 4, 0.5, true, [a, b], text). */
export function parseOverrides(args: readonly string[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--') || a.length < 3) throw new GrpoError('config', `expected --key value, got '${a}'`);
    const eq = a.indexOf('=');
    const key = a.slice(2, eq > 0 ? eq : undefined);
    let raw: string;
    if (eq > 0) raw = a.slice(eq + 1);
    else {
      if (i + 1 >= args.length) throw new GrpoError('config', `--${key} needs a value`);
      raw = args[++i];
    }
    out.push([key, YAML.parse(raw) ?? raw]);
  }
  return out;
}

export function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === undefined) cur[p] = {};
    if (typeof cur[p] !== 'object' || cur[p] === null || Array.isArray(cur[p])) throw new GrpoError('config', `cannot set '${key}': '${p}' is not a section`);
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = value;
}

/** Keys a schema object accepts at `path` (through optional/default wrappers), for suggestions. */
function keysAt(path: PropertyKey[]): string[] {
  let s: unknown = trainConfigSchema;
  const unwrap = (x: unknown): unknown => {
    let cur = x as { def?: { innerType?: unknown; type?: string; element?: unknown } };
    while (cur?.def?.innerType) cur = cur.def.innerType as typeof cur;
    return cur;
  };
  for (const p of path) {
    s = unwrap(s);
    const obj = s as { shape?: Record<string, unknown>; def?: { element?: unknown } };
    if (typeof p === 'number') s = obj.def?.element;
    else s = obj.shape?.[p as string];
  }
  const shape = (unwrap(s) as { shape?: Record<string, unknown> })?.shape;
  return shape ? Object.keys(shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = (extra?: string) => [...issue.path.map(String), ...(extra ? [extra] : [])].join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const known = keysAt(issue.path);
    const close = closestKey(key, known);
    const hint = close ? ` (did you mean '${[...issue.path.map(String), close].join('.')}'?)` : known.length ? ` (known keys: ${known.join(', ')})` : '';
    return `config: unknown key '${where(key)}'${hint}`;
  }
  return `config: '${where() || '(root)'}': ${issue.message}`;
}

export function validateTrainConfig(raw: unknown): TrainConfig {
  const r = trainConfigSchema.safeParse(raw);
  if (!r.success) throw new GrpoError('config', describeIssue(r.error.issues[0]));
  return r.data;
}

export function loadTrainConfig(file: string, overrides: readonly string[] = []): TrainConfig {
  if (!existsSync(file)) throw new GrpoError('config', `config file ${file} does not exist`);
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8')) ?? {};
  } catch (e) {
    throw new GrpoError('config', `${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new GrpoError('config', `${file} must hold a mapping of sections (model, data, rollout, …)`);
  for (const [k, v] of parseOverrides(overrides)) setPath(raw as Record<string, unknown>, k, v);
  return validateTrainConfig(raw);
}
