/** Validation shared by every command: all problems of a config in one GrpoError line, each naming its key. */
import type { z } from 'zod';
import { GrpoError } from '../errors.ts';
import { closestKey } from '../util/edit-distance.ts';

interface SchemaNode {
  shape?: Record<string, SchemaNode>;
  def?: { type?: string; innerType?: SchemaNode; element?: SchemaNode; out?: SchemaNode; catchall?: SchemaNode };
  safeParse?: (value: unknown) => { success: boolean };
}

/** The object schema under default/prefault/optional/nullable wrappers, if any. */
export function unwrapObject<T = z.ZodType>(field: unknown): T | null {
  let cur = field as SchemaNode | undefined;
  while (cur && !cur.shape) cur = cur.def?.innerType;
  return (cur ?? null) as T | null;
}

/** The schema under default/prefault/optional/nullable wrappers and preprocessing pipes, down to what it checks. */
function unwrap(node: SchemaNode | undefined): SchemaNode | undefined {
  let cur = node;
  while (cur && !cur.shape && (cur.def?.innerType || cur.def?.out)) cur = cur.def.innerType ?? cur.def.out;
  return cur;
}

/**
 * What `null` written for dotted `key` by a flag or an override object means: the value null where the schema takes
 * it (a nullable key), otherwise the key unset, so that it takes its default or is left out (`--data.eval null`).
 * A key the schema does not know stays null, for validation to name.
 */
export function nullUnsets(schema: z.ZodType, key: string): boolean {
  let node: SchemaNode | undefined = schema as unknown as SchemaNode;
  for (const part of key.split('.')) {
    const object = unwrap(node);
    const field = object?.shape?.[part];
    if (!field) {
      // an open section (algorithm's method options): an unknown key is unset, so it takes the method's default
      const open = object?.def?.catchall && object.def.catchall.def?.type !== 'never';
      return !!open;
    }
    node = field;
  }
  return !node?.safeParse?.(null).success;
}

/** Keys the schema accepts at `path` (through wrappers and arrays), for "did you mean" hints. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: SchemaNode | undefined = schema as unknown as SchemaNode;
  for (const p of path) {
    let cur: SchemaNode | undefined = s;
    while (cur && !cur.shape && cur.def?.innerType) cur = cur.def.innerType;
    s = typeof p === 'number' ? cur?.def?.element : cur?.shape?.[p as string];
  }
  return Object.keys(unwrapObject<SchemaNode>(s)?.shape ?? {});
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const at = (...extra: PropertyKey[]) => [...issue.path, ...extra].map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(schema, issue.path);
    return issue.keys
      .map((key) => {
        const close = closestKey(key, known);
        const hint = close
          ? ` (did you mean '${at(close)}'?)`
          : known.length
            ? ` (known keys: ${known.join(', ')})`
            : '';
        return `unknown key '${at(key)}'${hint}`;
      })
      .join('; ');
  }
  return `'${at() || '(root)'}': ${issue.message}`;
}

/** Validates `raw` against `schema`; any problem becomes one GrpoError line naming each bad key. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, label: string): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new GrpoError('config', `${label}: ${r.error.issues.map((issue) => describeIssue(schema, issue)).join('; ')}`);
}

/** One line per key: `path (default): doc` — a config's reference, generated from its schema. */
export function describeConfig(schema: z.ZodType, prefix = ''): string[] {
  const shape = unwrapObject<{ shape: Record<string, z.ZodType> }>(schema)?.shape;
  if (!shape) return [];
  const lines: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    const path = prefix ? `${prefix}.${key}` : key;
    let def: unknown;
    try {
      def = field.parse(undefined);
    } catch {
      def = '(required)';
    }
    lines.push(`${path} (default ${JSON.stringify(def)}): ${field.description ?? ''}`);
    const inner = unwrapObject(field);
    if (inner) lines.push(...describeConfig(inner, path));
  }
  return lines;
}
