/**
 * The runs under a folder, as the dashboard sees them: every folder (up to three levels down, so an arena's
 * runs are found too) that holds a metrics.jsonl. Each run's metrics and completions are followed with a
 * JsonlTail, so a request reads only what was appended since the last one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { JsonlTail } from './jsonl-tail.ts';

export interface RunInfo {
  /** the run's folder relative to the runs folder, with '/' separators */
  id: string;
  steps: number;
  /** when metrics.jsonl last changed (ms since the epoch) */
  updated: number;
}

export type RunFile = 'metrics' | 'completions';

export interface FileLines {
  generation: number;
  total: number;
  rows: Record<string, unknown>[];
  /** lines that were not a JSON record, left out */
  skipped: number;
}

/** Folders a run writes that hold no runs themselves. */
const NOT_RUNS = new Set(['checkpoint', 'checkpoint.old', 'final', 'final.old', 'rollout-weights', 'node_modules']);

export class RunStore {
  private readonly tails = new Map<string, Record<RunFile, JsonlTail<Record<string, unknown>>>>();

  constructor(readonly root: string) {}

  list(): RunInfo[] {
    const found: RunInfo[] = [];
    const walk = (dir: string, depth: number) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // removed while we looked
      }
      if (entries.some((e) => e.isFile() && e.name === 'metrics.jsonl')) {
        const id = path.relative(this.root, dir).split(path.sep).join('/') || '.';
        const t = this.tail(id);
        if (t)
          found.push({ id, steps: t.metrics.refresh().rows.length, updated: mtime(path.join(dir, 'metrics.jsonl')) });
      }
      if (depth < 3)
        for (const e of entries)
          if (e.isDirectory() && !NOT_RUNS.has(e.name) && !e.name.startsWith('.'))
            walk(path.join(dir, e.name), depth + 1);
    };
    walk(this.root, 0);
    return found.sort((a, b) => b.updated - a.updated || a.id.localeCompare(b.id));
  }

  /**
   * Lines of a run's metrics.jsonl or completions.jsonl from index `from` on; `generation` changes when the file
   * was rewritten (then start again from 0).
   */
  lines(id: string, file: RunFile, from = 0): FileLines | null {
    const t = this.tail(id)?.[file].refresh();
    return t ? { generation: t.generation, total: t.rows.length, rows: t.rows.slice(from), skipped: t.skipped } : null;
  }

  /** config.yaml as written by the run, else the config kept in its checkpoint (runs from before config.yaml). */
  config(id: string): string | null {
    const dir = this.dir(id);
    if (!dir) return null;
    const file = path.join(dir, 'config.yaml');
    if (existsSync(file)) return readFileSync(file, 'utf8');
    try {
      return stringify(
        (JSON.parse(readFileSync(path.join(dir, 'checkpoint', 'state.json'), 'utf8')) as { config: unknown }).config,
      );
    } catch {
      return '';
    }
  }

  /** A run's folder, only for ids naming a run folder under the root (nothing else is ever read). */
  private dir(id: string): string | null {
    const dir = path.resolve(this.root, id);
    const inside = dir === path.resolve(this.root) || dir.startsWith(path.resolve(this.root) + path.sep);
    return inside && existsSync(path.join(dir, 'metrics.jsonl')) ? dir : null;
  }

  /** the run's followed files, forgotten once its folder is gone */
  private tail(id: string) {
    const dir = this.dir(id);
    if (!dir) {
      this.tails.delete(id);
      return null;
    }
    let t = this.tails.get(id);
    if (!t) {
      t = {
        metrics: new JsonlTail(path.join(dir, 'metrics.jsonl')),
        completions: new JsonlTail(path.join(dir, 'completions.jsonl')),
      };
      this.tails.set(id, t);
    }
    return t;
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
