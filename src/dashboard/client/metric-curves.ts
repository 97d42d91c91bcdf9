/** Metric lines of several runs → one list of curves per metric, the metrics users look at first leading. */
import type { Curve } from './chart-grid.ts';

export interface RunRows {
  label: string;
  color: string;
  rows: Record<string, unknown>[];
}

const FIRST = [
  'reward',
  'accuracy',
  'eval_accuracy',
  'completion_length',
  'kl',
  'entropy',
  'clip_ratio',
  'loss',
  'grad_norm',
  'learning_rate',
  'reward_std',
  'frac_reward_zero_std',
  'truncated_ratio',
  'completion_length_max',
];
/** bookkeeping, not a curve */
const NOT_PLOTTED = new Set(['step', 'wall_time']);

export function metricCurves(
  runs: RunRows[],
  x = (row: Record<string, unknown>) => Number(row.step),
): Map<string, Curve[]> {
  const names = new Set<string>();
  for (const r of runs)
    for (const row of r.rows)
      for (const [k, v] of Object.entries(row)) if (typeof v === 'number' && !NOT_PLOTTED.has(k)) names.add(k);
  const out = new Map<string, Curve[]>();
  for (const name of [...names].sort(byImportance)) {
    out.set(
      name,
      runs
        .map((r) => ({
          label: r.label,
          color: r.color,
          points: r.rows.flatMap((row): [number, number][] =>
            typeof row[name] === 'number' && Number.isFinite(row[name]) ? [[x(row), row[name] as number]] : [],
          ),
        }))
        .filter((c) => c.points.length > 0),
    );
  }
  return out;
}

function byImportance(a: string, b: string): number {
  const rank = (n: string) => {
    const i = FIRST.indexOf(n);
    if (i >= 0) return i;
    if (n.startsWith('rewards/')) return 100;
    // rollout servers: staleness, waiting and per-server requests, together before the timings
    if (n.startsWith('async/') || n.startsWith('fleet/')) return 250;
    if (n.startsWith('time/') || n.startsWith('memory/')) return 300;
    return 200;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}
