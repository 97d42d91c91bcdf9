/**
 * Deprecated key names: an old name keeps working, is moved to its new name before validation, and warns once
 * per load (a key written in the file and again as a flag warns once). Written under both names it is an error.
 */
import { GrpoError } from '../errors.ts';
import { deletePath, isSection, setPath } from './read.ts';
import { getPath } from '../data/fields.ts';

export interface DeprecatedKey {
  /** the old dotted key (a whole section, or one key of it) */
  old: string;
  /** the key that replaces it, as the warning names it */
  now: string;
  /** where the old value goes when it is not simply `now` (one old key split into several new ones) */
  to?: (value: unknown) => Record<string, unknown>;
  /** said after the new name in the warning */
  hint?: string;
}

function warnOnce(alias: DeprecatedKey, label: string, warned: Set<string>): void {
  if (warned.has(alias.old)) return;
  warned.add(alias.old);
  console.warn(`${label}: '${alias.old}' is deprecated; use '${alias.now}'${alias.hint ? ` (${alias.hint})` : ''}`);
}

/** Put `value` at `key`; a section already there takes the keys it lacks, and a key set under both names is refused. */
function mergeInto(raw: Record<string, unknown>, key: string, old: string, value: unknown, label: string): void {
  const there = getPath(raw, key);
  if (there === undefined) return setPath(raw, key, value);
  if (isSection(there) && isSection(value)) {
    for (const [k, v] of Object.entries(value)) mergeInto(raw, `${key}.${k}`, `${old}.${k}`, v, label);
    return;
  }
  throw new GrpoError('config', `${label}: '${old}' and '${key}' are the same key; keep '${key}'`);
}

/**
 * `raw` with every deprecated key under its new name. Aliases apply in order, so a key of a renamed section
 * ('train.lr' → 'optimizer.lr') must come before the section ('train' → 'training'). `raw` itself is not changed.
 */
export function renameDeprecated(
  raw: unknown,
  aliases: readonly DeprecatedKey[],
  label: string,
  warned = new Set<string>(),
): unknown {
  if (!isSection(raw) || !aliases.some((a) => getPath(raw, a.old) !== undefined)) return raw;
  const out = structuredClone(raw);
  for (const alias of aliases) {
    const value = getPath(out, alias.old);
    if (value === undefined) continue;
    deletePath(out, alias.old);
    for (const [key, v] of Object.entries(alias.to ? alias.to(value) : { [alias.now]: value }))
      mergeInto(out, key, alias.old, v, label);
    warnOnce(alias, label, warned);
  }
  return out;
}

/** A `--key` flag's key(s) under the new names: a flag overrides whatever the file says, under either name. */
export function renameFlag(
  key: string,
  value: unknown,
  aliases: readonly DeprecatedKey[],
  label: string,
  warned: Set<string>,
): [string, unknown][] {
  const alias = aliases.find((a) => key === a.old || key.startsWith(`${a.old}.`));
  if (!alias) return [[key, value]];
  warnOnce(alias, label, warned);
  if (key === alias.old && alias.to) return Object.entries(alias.to(value));
  return [[alias.now + key.slice(alias.old.length), value]];
}
