/**
 * Progress output for a training-free run: one human line per step on stdout, one JSON line per step in
 * RUN/metrics.jsonl, warnings (parse failures, skipped calls) on stderr and in RUN/warnings.log.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface RunLogOptions {
  /** print nothing to the terminal (tests); files are still written */
  quiet?: boolean;
}

export class RunLog {
  readonly warnings: string[] = [];

  constructor(
    readonly dir: string,
    private readonly opts: RunLogOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
  }

  line(text: string): void {
    if (!this.opts.quiet) console.log(text);
  }

  metrics(record: Record<string, unknown>): void {
    appendFileSync(
      join(this.dir, 'metrics.jsonl'),
      `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`,
    );
  }

  warn(text: string): void {
    this.warnings.push(text);
    if (!this.opts.quiet) console.error(`warning: ${text}`);
    appendFileSync(join(this.dir, 'warnings.log'), `${new Date().toISOString()} ${text}\n`);
  }
}

/** "0.734" — scores in progress lines */
export function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits);
}
