/**
 * Training-Free GRPO's experience library (Tencent Youtu, arXiv 2510.08191): an ordered set of short lessons
 * with ids G0..Gn that the frozen model reads in its prompt. The critic edits it with operations
 * (youtu-agent: utu/practice/experience_updater.py, `_batch_update`):
 *   ADD    → a new lesson under a fresh id
 *   UPDATE → replace the lesson with that id; an unknown id becomes an ADD
 *   DELETE → remove the lesson with that id
 *   NONE   → no change
 * after which the library is renumbered G0..Gn in order. Divergence, on purpose: youtu skips every operation
 * without content, DELETE included; here DELETE needs only its id.
 */
import { readFileSync } from 'node:fs';
import { GrpoError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic.ts';

export type ExperienceOperationKind = 'ADD' | 'UPDATE' | 'DELETE' | 'NONE';

export interface ExperienceOperation {
  operation: ExperienceOperationKind;
  /** the target lesson for UPDATE / DELETE, e.g. "G3" */
  id: string | null;
  content: string;
}

export interface ApplyReport {
  added: number;
  updated: number;
  deleted: number;
  none: number;
  /** operations that could not be applied, with the reason */
  skipped: { operation: unknown; reason: string }[];
}

/** "[G3]", "g3", "3", "Experience G3." → "G3"; null for nothing usable. */
export function normalizeExperienceId(raw: unknown): string | null {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return `G${raw}`;
  if (typeof raw !== 'string') return null;
  const s = raw
    .trim()
    .replace(/^experience\s+/i, '')
    .replace(/^\[|\]\.?$|\.$/g, '')
    .trim();
  if (s === '' || /^(null|none)$/i.test(s)) return null;
  if (/^\d+$/.test(s)) return `G${Number(s)}`;
  if (/^g\d+$/i.test(s)) return `G${Number(s.slice(1))}`;
  return s;
}

/** Reads one operation as a model wrote it; a string error when it is not an operation at all. */
export function normalizeOperation(raw: unknown): ExperienceOperation | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'not an object';
  const r = raw as Record<string, unknown>;
  const opText = typeof r.operation === 'string' ? r.operation : typeof r.op === 'string' ? r.op : 'ADD'; // youtu defaults a missing operation to ADD
  const upper = opText.trim().toUpperCase();
  const operation = upper === 'REMOVE' ? 'DELETE' : upper === 'MODIFY' ? 'UPDATE' : upper;
  if (!['ADD', 'UPDATE', 'DELETE', 'NONE'].includes(operation)) return `unknown operation '${opText}'`;
  const content = typeof r.content === 'string' ? r.content.trim() : '';
  return { operation: operation as ExperienceOperationKind, id: normalizeExperienceId(r.id), content };
}

export class ExperienceLibrary {
  private readonly items: Map<string, string>;

  constructor(entries: Iterable<[string, string]> = []) {
    this.items = new Map(entries);
  }

  static fromRecord(record: Record<string, string>): ExperienceLibrary {
    return new ExperienceLibrary(Object.entries(record));
  }

  get size(): number {
    return this.items.size;
  }

  ids(): string[] {
    return [...this.items.keys()];
  }

  get(id: string): string | undefined {
    return this.items.get(id);
  }

  entries(): [string, string][] {
    return [...this.items.entries()];
  }

  toRecord(): Record<string, string> {
    return Object.fromEntries(this.items);
  }

  /** the next free id: one past the largest numeric G-id, so an ADD never collides with a kept lesson */
  private nextId(): string {
    let max = -1;
    for (const id of this.items.keys()) {
      const m = /^G(\d+)$/.exec(id);
      if (m) max = Math.max(max, Number(m[1]));
    }
    return `G${max + 1}`;
  }

  /** Applies operations in order to a copy; this library is left unchanged. */
  applied(operations: readonly unknown[]): { library: ExperienceLibrary; report: ApplyReport } {
    const lib = new ExperienceLibrary(this.items);
    const report: ApplyReport = { added: 0, updated: 0, deleted: 0, none: 0, skipped: [] };
    for (const raw of operations) {
      const op = normalizeOperation(raw);
      if (typeof op === 'string') {
        report.skipped.push({ operation: raw, reason: op });
        continue;
      }
      switch (op.operation) {
        case 'NONE':
          report.none++;
          break;
        case 'ADD':
          if (!op.content) report.skipped.push({ operation: raw, reason: 'ADD without content' });
          else {
            lib.items.set(lib.nextId(), op.content);
            report.added++;
          }
          break;
        case 'UPDATE':
          if (!op.content) report.skipped.push({ operation: raw, reason: 'UPDATE without content' });
          else if (op.id !== null && lib.items.has(op.id)) {
            lib.items.set(op.id, op.content);
            report.updated++;
          } else {
            lib.items.set(lib.nextId(), op.content); // youtu: an UPDATE of an unknown id adds the lesson
            report.added++;
          }
          break;
        case 'DELETE':
          if (op.id !== null && lib.items.delete(op.id)) report.deleted++;
          else report.skipped.push({ operation: raw, reason: `DELETE of unknown id '${op.id}'` });
          break;
      }
    }
    return { library: lib, report };
  }

  /** The same lessons in the same order, ids G0..Gn-1. */
  renumbered(): ExperienceLibrary {
    return new ExperienceLibrary([...this.items.values()].map((text, i) => [`G${i}`, text] as [string, string]));
  }

  /** "[G0]. lesson" lines, as the task model and the critic read them; "" when empty. */
  format(): string {
    return this.entries()
      .map(([id, text]) => `[${id}]. ${text}`)
      .join('\n');
  }

  toJSON(): { experiences: Record<string, string> } {
    return { experiences: this.toRecord() };
  }

  save(path: string): void {
    writeFileAtomic(path, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
  }

  /** Reads a saved library: {"experiences": {...}} as saved here, or a bare {"G0": "..."} record. */
  static load(path: string): ExperienceLibrary {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new GrpoError('io', `cannot read experience library ${path}: ${(e as Error).message}`);
    }
    const rec = (json as { experiences?: unknown }).experiences ?? json;
    if (
      rec === null ||
      typeof rec !== 'object' ||
      Array.isArray(rec) ||
      Object.values(rec).some((v) => typeof v !== 'string')
    ) {
      throw new GrpoError('data', `${path}: expected {"experiences": {"G0": "lesson", ...}} as written by grpo tfgrpo`);
    }
    return ExperienceLibrary.fromRecord(rec as Record<string, string>);
  }
}
