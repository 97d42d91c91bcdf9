/**
 * The arena's comparison, written into its folder: arena.md (the table), arena.html (the table and every metric's
 * curves, methods overlaid as means over seeds; a single file that opens offline) and arena.json (the numbers).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { htmlPage } from '../dashboard/page.ts';
import { defaultTarget, meanCurves, summarizeMethods, LAST_STEPS, type MethodSummary, type Spread } from './summary.ts';
import type { ArenaRuns } from './arena.ts';

export interface ArenaReport {
  title: string;
  target: number;
  seeds: number;
  columns: string[];
  /** the table: one row of formatted cells per method */
  table: string[][];
  methods: MethodSummary[];
  curves: { method: string; rows: Record<string, number>[] }[];
  notes: string[];
}

export function arenaReport(a: ArenaRuns, target = defaultTarget(a.runs)): ArenaReport {
  const methods = summarizeMethods(a.runs, target);
  const seeds = Math.max(...methods.map((m) => m.seeds));
  const pct = `${Math.round(target * 1000) / 10}%`;
  const columns = [
    'method',
    'final held-out acc',
    'best held-out acc',
    `steps to ${pct}`,
    `time to ${pct} (s)`,
    'completion length',
    'KL',
    'wall time (s)',
  ];
  const table = methods.map((m) => [
    m.method,
    fmt(m.final, 3),
    fmt(m.best, 3),
    reached(m.stepsToTarget, m.seeds, 0),
    reached(m.secondsToTarget, m.seeds, 1),
    fmt(m.completionLength, 1),
    fmt(m.kl, 4),
    fmt(m.seconds, 1),
  ]);
  const notes = [
    `Config ${a.configFile}; ${a.runs.length} runs (${seeds} seed${seeds > 1 ? 's' : ''} per method) in ${a.dir}.`,
    `Held-out accuracy is greedy, on the config's eval set; the target is ${pct} held-out accuracy${seeds > 1 ? '; ± is the sample standard deviation over seeds' : ''}.`,
    `Steps and time to the target count to the first evaluation at or above it (time: training from step 1, evaluations between steps included); "—" where none reached it${seeds > 1 ? ', k/n where some seeds did' : ''}.`,
    `Completion length and KL are means over the last ${LAST_STEPS} steps; KL "—" for methods without a KL term.`,
  ];
  return { title: `grpo arena: ${a.name}`, target, seeds, columns, table, methods, curves: meanCurves(a.runs), notes };
}

export function markdownTable(r: ArenaReport): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `# ${r.title}`,
    '',
    row(r.columns),
    row(r.columns.map(() => '---')),
    ...r.table.map(row),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

export async function writeArenaReport(
  a: ArenaRuns,
  target?: number,
): Promise<{ report: ArenaReport; files: string[] }> {
  const report = arenaReport(a, target);
  const files = [path.join(a.dir, 'arena.md'), path.join(a.dir, 'arena.html'), path.join(a.dir, 'arena.json')];
  writeFileSync(files[0], markdownTable(report));
  writeFileSync(files[1], await htmlPage('report', report.title, report));
  writeFileSync(files[2], JSON.stringify({ ...report, runs: a.runs }, null, 1) + '\n');
  return { report, files };
}

function fmt(s: Spread | null, digits: number): string {
  if (!s) return '—';
  return s.sd === null ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}

/** a to-target spread over the seeds that reached it, with how many did when not all */
function reached(s: Spread | null, seeds: number, digits: number): string {
  if (!s) return '—';
  return s.n < seeds ? `${fmt(s, digits)} (${s.n}/${seeds})` : fmt(s, digits);
}
