/**
 * Follows a JSONL file another process appends to: each `refresh()` reads only the bytes added since the last
 * one, and only whole lines (a line still being written is left for the next read). A file that was rewritten
 * underneath (truncated, replaced, or rewritten from the start, as a resumed run trims its metrics) is read again
 * from the beginning, and `generation` counts those restarts so clients know to drop what they hold.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class JsonlTail<T = unknown> {
  rows: T[] = [];
  generation = 0;
  /** complete lines that were not a JSON object — not JSON, or null, a list, a number (left out) */
  skipped = 0;
  private offset = 0;
  /** the last line consumed, with its newline: still there at offset - length unless the file was rewritten */
  private lastLine: Buffer | null = null;

  constructor(readonly file: string) {}

  refresh(): this {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      if (this.offset > 0) this.restart();
      return this;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset || !this.lastLineStillThere(fd)) this.restart();
      if (size === this.offset) return this;
      const added = Buffer.alloc(size - this.offset);
      const got = readSync(fd, added, 0, added.length, this.offset);
      const end = added.subarray(0, got).lastIndexOf(0x0a);
      if (end < 0) return this;
      const complete = added.subarray(0, end + 1);
      for (const line of complete.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        let row: unknown;
        try {
          row = JSON.parse(line);
        } catch {
          row = null;
        }
        // a record is an object: a `null` or a list would break every reader of the rows
        if (row && typeof row === 'object' && !Array.isArray(row)) this.rows.push(row as T);
        else this.skipped++;
      }
      const lastStart = complete.lastIndexOf(0x0a, complete.length - 2) + 1;
      this.lastLine = Buffer.from(complete.subarray(lastStart));
      this.offset += complete.length;
      return this;
    } finally {
      closeSync(fd);
    }
  }

  private lastLineStillThere(fd: number): boolean {
    if (!this.lastLine) return true;
    const now = Buffer.alloc(this.lastLine.length);
    readSync(fd, now, 0, now.length, this.offset - this.lastLine.length);
    return now.equals(this.lastLine);
  }

  private restart(): void {
    this.rows = [];
    this.offset = 0;
    this.lastLine = null;
    this.skipped = 0;
    this.generation++;
  }
}
