/**
 * What the arena reports of each run and, over seeds, of each method: final and best held-out accuracy, the
 * steps and training wall time until a held-out evaluation first reached the target, and the completion length
 * and KL at the end of training (means over the last LAST_STEPS steps, as single steps are noisy).
 */
import { mean } from '../algorithms/stats.ts';

export type MetricLine = Record<string, number | string | null>;

/** One finished run of the arena, as train() returned it. */
export interface ArenaRun {
  method: string;
  seed: number;
  /** the run's folder, relative to the arena's */
  id: string;
  metrics: MetricLine[];
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  /** wall seconds of the whole train() call: loading, evaluations and steps */
  seconds: number;
}

export interface RunSummary {
  final: number | null;
  best: number | null;
  stepsToTarget: number | null;
  secondsToTarget: number | null;
  completionLength: number | null;
  kl: number | null;
  seconds: number;
}

export const LAST_STEPS = 10;

/** Held-out accuracy by step: the start (step 0), each `eval_accuracy`, and the final evaluation after the last step. */
export function heldOut(run: ArenaRun): [step: number, accuracy: number][] {
  const points: [number, number][] = [];
  if (run.accuracyBefore !== null) points.push([0, run.accuracyBefore]);
  for (const m of run.metrics) if (typeof m.eval_accuracy === 'number') points.push([Number(m.step), m.eval_accuracy]);
  const last = run.metrics.at(-1);
  if (run.accuracyAfter !== null && last) points.push([Number(last.step), run.accuracyAfter]);
  return points;
}

/**
 * Seconds of training (evaluations between steps included) from the start of step 1 to the end of `step`:
 * step 1 started when its own timings, before its wall_time, began.
 */
export function trainingSeconds(metrics: MetricLine[], step: number): number | null {
  if (step === 0) return 0;
  const first = metrics[0],
    at = metrics.find((m) => m.step === step);
  if (!first || !at || typeof first.wall_time !== 'number' || typeof at.wall_time !== 'number') return null;
  const firstStepMs = ['time/generate_ms', 'time/prepare_ms', 'time/update_ms'].reduce(
    (s, k) => s + (Number(first[k]) || 0),
    0,
  );
  return at.wall_time - (first.wall_time - firstStepMs / 1000);
}

export function summarizeRun(run: ArenaRun, target: number): RunSummary {
  const points = heldOut(run);
  const after = points.filter(([step]) => step > 0).map(([, acc]) => acc);
  const reached = points.find(([, acc]) => acc >= target);
  const tail = run.metrics.slice(-LAST_STEPS);
  const tailMean = (key: string) => {
    const xs = tail.map((m) => m[key]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return xs.length ? mean(xs) : null;
  };
  return {
    final: run.accuracyAfter,
    best: after.length ? Math.max(...after) : null,
    stepsToTarget: reached ? reached[0] : null,
    secondsToTarget: reached ? trainingSeconds(run.metrics, reached[0]) : null,
    completionLength: tailMean('completion_length'),
    kl: tailMean('kl'),
    seconds: run.seconds,
  };
}

/** Mean and sample standard deviation (n − 1) over seeds of the values present; `n` counts them. */
export interface Spread {
  mean: number;
  sd: number | null;
  n: number;
}

export function spread(values: (number | null)[]): Spread | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!xs.length) return null;
  const m = mean(xs);
  return {
    mean: m,
    sd: xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1)) : null,
    n: xs.length,
  };
}

export interface MethodSummary {
  method: string;
  seeds: number;
  final: Spread | null;
  best: Spread | null;
  /** over the seeds that reached the target (`stepsToTarget.n` of `seeds`) */
  stepsToTarget: Spread | null;
  secondsToTarget: Spread | null;
  completionLength: Spread | null;
  kl: Spread | null;
  seconds: Spread | null;
}

export function summarizeMethods(runs: ArenaRun[], target: number): MethodSummary[] {
  const methods = [...new Set(runs.map((r) => r.method))];
  return methods.map((method) => {
    const s = runs.filter((r) => r.method === method).map((r) => summarizeRun(r, target));
    const over = (k: keyof RunSummary) => spread(s.map((x) => x[k]));
    return {
      method,
      seeds: s.length,
      final: over('final'),
      best: over('best'),
      stepsToTarget: over('stepsToTarget'),
      secondsToTarget: over('secondsToTarget'),
      completionLength: over('completionLength'),
      kl: over('kl'),
      seconds: over('seconds'),
    };
  });
}

/**
 * The target when none is given: 90% of the best held-out accuracy any run reached, so that "steps to target"
 * compares how fast methods get near the best result of the arena. Where no run got any right, 100%: none reached.
 */
export function defaultTarget(runs: ArenaRun[]): number {
  const best = Math.max(
    0,
    ...runs.flatMap((r) =>
      heldOut(r)
        .filter(([s]) => s > 0)
        .map(([, a]) => a),
    ),
  );
  return best > 0 ? Math.round(0.9 * best * 1000) / 1000 : 1;
}

/** Each method's metric lines averaged over its seeds step by step (numbers only), held-out accuracy (start, evaluations, final) as `heldout_accuracy`. */
export function meanCurves(runs: ArenaRun[]): { method: string; rows: Record<string, number>[] }[] {
  const methods = [...new Set(runs.map((r) => r.method))];
  return methods.map((method) => {
    const mine = runs.filter((r) => r.method === method);
    const byStep = new Map<number, Map<string, number[]>>();
    const add = (step: number, key: string, v: unknown) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return;
      const row = byStep.get(step) ?? new Map<string, number[]>();
      byStep.set(step, row);
      row.set(key, [...(row.get(key) ?? []), v]);
    };
    for (const r of mine) {
      // eval_accuracy is part of heldout_accuracy
      for (const m of r.metrics)
        for (const [k, v] of Object.entries(m)) if (k !== 'step' && k !== 'eval_accuracy') add(Number(m.step), k, v);
      for (const [step, acc] of heldOut(r)) add(step, 'heldout_accuracy', acc);
    }
    const rows = [...byStep]
      .sort((a, b) => a[0] - b[0])
      .map(([step, row]) => Object.fromEntries([['step', step], ...[...row].map(([k, vs]) => [k, mean(vs)])]));
    return { method, rows };
  });
}
