/**
 * Reads dataset files into plain records: JSON Lines, JSON (a list, or an object holding one list),
 * and Parquet (hyparquet, with snappy/gzip/brotli/zstd/lz4 from hyparquet-compressors); `.gz` on any
 * of them is decompressed first. Parquet int64 values arrive as BigInt and become numbers when they fit
 * exactly (beyond 2^53 they stay BigInt).
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { GrpoError } from '../errors.ts';

export type DataRecord = Record<string, unknown>;
export type DataFormat = 'jsonl' | 'json' | 'parquet';

export interface ReadOptions {
  /** File format; default from the extension (.jsonl/.ndjson, .json, .parquet, each optionally .gz). */
  format?: DataFormat;
  /** For JSON objects holding several lists: the key of the records. */
  jsonKey?: string;
  /** Read at most this many records. */
  limit?: number;
}

export function formatOf(path: string): DataFormat {
  const name = path.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.json')) return 'json';
  if (name.endsWith('.parquet')) return 'parquet';
  throw new GrpoError(
    'data',
    `cannot tell the format of '${path}' from its extension; name it .jsonl, .json or .parquet (optionally .gz) or pass format`,
  );
}

/** BigInt → number where exact; recurses into lists and objects. */
export function plainValues(v: unknown): unknown {
  if (typeof v === 'bigint')
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(plainValues);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValues(x)]));
  }
  return v;
}

function parseJsonLines(text: string, path: string, limit: number): DataRecord[] {
  const out: DataRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && out.length < limit; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new GrpoError(
        'data',
        `${path}:${i + 1}: not valid JSON (${(e as Error).message}); each line of a .jsonl file must be one JSON object`,
      );
    }
    if (!row || typeof row !== 'object' || Array.isArray(row))
      throw new GrpoError(
        'data',
        `${path}:${i + 1}: expected a JSON object per line, got ${jsonKind(row)}; remove the line or make it a record`,
      );
    out.push(row as DataRecord);
  }
  return out;
}

function parseJsonDocument(text: string, path: string, jsonKey: string | undefined, limit: number): DataRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GrpoError('data', `${path}: not valid JSON (${(e as Error).message})`);
  }
  let list: unknown = doc;
  if (!Array.isArray(doc) && doc && typeof doc === 'object') {
    const entries = Object.entries(doc as DataRecord);
    if (jsonKey !== undefined) list = (doc as DataRecord)[jsonKey];
    else {
      const lists = entries.filter(([, v]) => Array.isArray(v));
      if (lists.length !== 1)
        throw new GrpoError(
          'data',
          `${path}: a JSON object with ${lists.length} lists (${lists.map(([k]) => k).join(', ')}); pass jsonKey to say which holds the records`,
        );
      list = lists[0][1];
    }
  }
  if (!Array.isArray(list))
    throw new GrpoError('data', `${path}: expected a JSON list of records${jsonKey ? ` under '${jsonKey}'` : ''}`);
  list.forEach((row, i) => {
    if (!row || typeof row !== 'object' || Array.isArray(row))
      throw new GrpoError('data', `${path}: record ${i} is not a JSON object (got ${jsonKind(row)})`);
  });
  return (list as DataRecord[]).slice(0, limit);
}

async function parseParquet(bytes: Buffer, limit: number): Promise<DataRecord[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({ file, compressors, ...(Number.isFinite(limit) ? { rowEnd: limit } : {}) });
  return rows.map((r) => plainValues(r) as DataRecord);
}

/** Reads all records of a dataset file. */
export async function readRecords(path: string, opts: ReadOptions = {}): Promise<DataRecord[]> {
  const format = opts.format ?? formatOf(path);
  const limit = opts.limit ?? Infinity;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new GrpoError('data', `cannot read dataset '${path}': ${(e as Error).message}`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes); // gzip magic, whatever the name says
  try {
    if (format === 'parquet') return await parseParquet(bytes, limit);
  } catch (e) {
    throw new GrpoError('data', `${path}: not a readable Parquet file (${(e as Error).message})`);
  }
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  return format === 'jsonl' ? parseJsonLines(text, path, limit) : parseJsonDocument(text, path, opts.jsonKey, limit);
}

/** What a JSON value is, for errors: null, a list, a string, a number, a boolean. */
function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}
