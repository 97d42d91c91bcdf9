/** Field mapping: turn a dataset's own columns into the names rewards and templates read. */
import type { DataRecord } from './load.ts';
import { GrpoError } from '../errors.ts';

/** A source column as a dotted path ('reward_model.ground_truth.target', 'prompt.0.content') or a function. */
export type FieldSource = string | ((row: DataRecord, index: number) => unknown);
export type FieldMap = Record<string, FieldSource>;

/** Value at a dotted path; undefined when any step is missing. */
export function getPath(row: unknown, path: string): unknown {
  let v: unknown = row;
  for (const key of path.split('.')) {
    if (v === null || v === undefined) return undefined;
    if (Array.isArray(v) && /^\d+$/.test(key)) v = v[Number(key)];
    else if (typeof v === 'object') v = (v as DataRecord)[key];
    else return undefined;
  }
  return v;
}

/**
 * Builds one record from `map` (target field → source). A source that yields undefined is an error
 * naming the field, unless the target is listed in `optional`.
 */
export function mapRecord(row: DataRecord, map: FieldMap, index: number, optional: readonly string[] = []): DataRecord {
  const out: DataRecord = {};
  for (const [target, source] of Object.entries(map)) {
    const value = typeof source === 'function' ? source(row, index) : getPath(row, source);
    if (value === undefined) {
      if (optional.includes(target)) continue;
      throw new GrpoError(
        'data',
        `no value for '${target}' (from ${typeof source === 'string' ? `'${source}'` : 'a function'}); the row has fields ${Object.keys(row).join(', ')}`,
      );
    }
    out[target] = value;
  }
  return out;
}

/** mapRecord over all rows; an error names the row. */
export function mapFields(rows: readonly DataRecord[], map: FieldMap, optional: readonly string[] = []): DataRecord[] {
  return rows.map((row, index) => {
    try {
      return mapRecord(row, map, index, optional);
    } catch (e) {
      if (e instanceof GrpoError) throw new GrpoError('data', `row ${index}: ${e.message}`);
      throw e;
    }
  });
}
