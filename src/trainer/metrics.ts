/**
 * Run outputs users watch and plot: one JSONL line per step (TRL metric names where they exist), sample
 * completions, the run's config, TensorBoard event files when asked, and a progress bar with ETA and the key
 * metrics. docs/metrics.md documents every field; `grpo dashboard` draws them.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { stringify } from 'yaml';
import { TensorBoardWriter } from './tensorboard.ts';
import { writeFileAtomic } from '../util/atomic.ts';
export { mean, std } from '../algorithms/stats.ts';

export type MetricRecord = Record<string, number | string | null>;

export class MetricsLog {
  readonly file: string;
  readonly completionsFile: string;
  private readonly tensorboard: TensorBoardWriter | null;

  constructor(
    readonly dir: string,
    opts: { tensorboard?: boolean } = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'metrics.jsonl');
    this.completionsFile = path.join(dir, 'completions.jsonl');
    this.tensorboard = opts.tensorboard ? new TensorBoardWriter(dir) : null;
  }

  /** The run's full configuration (defaults filled in) as config.yaml: what the dashboard shows, and a valid --config. */
  writeConfig(config: object): void {
    writeFileAtomic(path.join(this.dir, 'config.yaml'), stringify(config));
  }

  /**
   * Start fresh (step 0), or — resuming at `step` — keep what steps 1…step wrote (one metric line each, and their
   * sample completions): later lines belong to steps that will run again.
   */
  reset(step = 0): void {
    const keep = (f: string, pick: (rows: string[]) => string[]) => {
      const rows = existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
      writeFileSync(
        f,
        pick(rows)
          .map((l) => l + '\n')
          .join(''),
      );
    };
    keep(this.file, (rows) => rows.slice(0, step));
    keep(this.completionsFile, (rows) => rows.filter((r) => (JSON.parse(r) as { step: number }).step <= step));
  }

  write(record: MetricRecord): void {
    appendFileSync(this.file, JSON.stringify(record) + '\n');
    this.tensorboard?.write(
      Number(record.step),
      record,
      typeof record.wall_time === 'number' ? record.wall_time : undefined,
    );
  }

  writeCompletions(record: unknown): void {
    appendFileSync(this.completionsFile, JSON.stringify(record) + '\n');
  }
}

/** Progress bar on a terminal; a plain line every few seconds otherwise (CI logs). */
export function progressBar(total: number, quiet: boolean) {
  if (quiet) return { start: () => {}, update: (_v: number, _p: Record<string, string>) => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: 'grpo {bar} {value}/{total} | reward {reward} | acc {acc} | len {len} | kl {kl} | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (value: number) => bar.start(total, value, { reward: '-', acc: '-', len: '-', kl: '-' }),
    update: (value: number, payload: Record<string, string>) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
}
