/**
 * Response cache for the OpenAI-compatible client: in memory and, optionally, on disk.
 * The key is the SHA-256 of the normalised request (endpoint URL + body with keys sorted, undefined dropped),
 * so two requests that mean the same thing share an entry and the API key never enters it.
 * Disk entries are written to a temporary file and renamed into place, so a crash or a concurrent writer
 * never leaves a half-written entry that a later run would read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.ts';
import { join } from 'node:path';

/** JSON with object keys sorted at every level and undefined members dropped: one text per meaning. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function requestCacheKey(url: string, body: unknown): string {
  return createHash('sha256').update(canonicalJson({ url, body })).digest('hex');
}

/** Writes `data` to `path` atomically (temp file in the same folder, then rename). Creates the folder. */

export interface ResponseCacheOptions {
  /** folder for on-disk entries; undefined = memory only */
  dir?: string;
  /** keep entries in memory too (default true) */
  memory?: boolean;
}

export class ResponseCache<T> {
  private readonly mem = new Map<string, T>();
  private readonly dir?: string;
  private readonly useMemory: boolean;

  constructor(opts: ResponseCacheOptions = {}) {
    this.dir = opts.dir;
    this.useMemory = opts.memory ?? true;
  }

  get enabled(): boolean {
    return this.useMemory || this.dir !== undefined;
  }

  /** entries live at DIR/ab/abcd….json, two-level so no folder grows to millions of files */
  pathFor(key: string): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): T | undefined {
    const hit = this.mem.get(key);
    if (hit !== undefined) return hit;
    const path = this.pathFor(key);
    if (path === undefined) return undefined;
    let entry: { key?: string; response?: T };
    try {
      entry = JSON.parse(readFileSync(path, 'utf8')) as { key?: string; response?: T };
    } catch {
      return undefined; // absent, or unreadable: a miss, and the next set() replaces it
    }
    if (entry.key !== key || entry.response === undefined) return undefined;
    if (this.useMemory) this.mem.set(key, entry.response);
    return entry.response;
  }

  /** `request` is stored beside the response on disk so an entry can be inspected by hand. */
  set(key: string, response: T, request?: unknown): void {
    if (this.useMemory) this.mem.set(key, response);
    const path = this.pathFor(key);
    if (path !== undefined) writeFileAtomic(path, JSON.stringify({ key, request, response }));
  }
}
