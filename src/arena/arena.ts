/**
 * `grpo arena`: the same task from the same start (model, data, config) trained with each method and seed, one
 * run after another, then compared (report.ts). Only `algorithm.preset` and `seed` differ between runs; every
 * other key — method knobs set in the file included — is the file's, for every method.
 */
import path from 'node:path';
import { loadTrainConfig } from '../trainer/config/load.ts';
import type { TrainConfig } from '../trainer/config/schema.ts';
import { methodPresets } from '../trainer/config/presets.ts';
import { train, type TrainOptions } from '../trainer/trainer.ts';
import { GrpoError } from '../errors.ts';
import type { ArenaRun } from './summary.ts';

export interface ArenaOptions {
  /** the YAML run config every run starts from */
  config: string;
  methods: string[];
  /** seeds per method: the config's seed, seed + 1, … */
  seeds?: number;
  /** `--a.b value` overrides applied to every run */
  overrides?: string[];
  /** the arena's folder under out_dir (default: arena-<config name>) */
  name?: string;
  /** passed to every train() call (tasks, rewards, quiet …) */
  trainOptions?: Omit<TrainOptions, 'resume' | 'onStep'>;
  /** called before each run starts */
  onRun?: (index: number, total: number, method: string, seed: number) => void;
}

export interface ArenaRuns {
  name: string;
  dir: string;
  configFile: string;
  runs: ArenaRun[];
}

export async function runArena(o: ArenaOptions): Promise<ArenaRuns> {
  const methods = checkedMethods(o.methods);
  const seeds = o.seeds ?? 1;
  if (!Number.isInteger(seeds) || seeds < 1)
    throw new GrpoError('config', `--seeds takes a whole number ≥ 1, got ${seeds}`);
  if (o.name !== undefined) checkArenaName(o.name);
  const base = loadTrainConfig(o.config, o.overrides ?? []);
  const name = o.name ?? `arena-${base.name}`;
  const dir = path.join(base.out_dir, name);
  const overrides = [...(o.overrides ?? []), ...evaluationOverride(base)];
  const runs: ArenaRun[] = [];
  const total = methods.length * seeds;
  for (const method of methods) {
    for (let k = 0; k < seeds; k++) {
      const seed = base.seed + k;
      o.onRun?.(runs.length, total, method, seed);
      runs.push(await trainArenaRun(o, { method, seed, dir, overrides }));
    }
  }
  return { name, dir, configFile: o.config, runs };
}

/** The arena's folder is one folder under out_dir: a name with a path separator or `..` would write outside it. */
function checkArenaName(name: string): void {
  if (/^[\w.-]+$/.test(name) && name !== '.' && name !== '..') return;
  throw new GrpoError(
    'config',
    `--arena-name '${name}' is not a folder name: it names one folder under out_dir, so use letters, digits, ".", "-" and "_" (no path separators, not "." or "..")`,
  );
}

/** The --methods list trimmed, each a known preset and named once. */
function checkedMethods(names: string[]): string[] {
  const methods = names.map((m) => m.trim()).filter(Boolean);
  if (!methods.length)
    throw new GrpoError(
      'config',
      `--methods needs at least one of ${methodPresets.names().join(', ')} (comma-separated)`,
    );
  const unknown = methods.filter((m) => !methodPresets.has(m));
  if (unknown.length)
    throw new GrpoError(
      'config',
      `--methods: unknown method ${unknown.map((m) => `'${m}'`).join(', ')}; choose from ${methodPresets.names().join(', ')}`,
    );
  if (new Set(methods).size !== methods.length)
    throw new GrpoError('config', `--methods names a method twice: ${methods.join(',')}`);
  return methods;
}

/** Without evaluations during training there is no curve to reach a target on: evaluate about ten times. */
function evaluationOverride(base: TrainConfig): string[] {
  if (base.training.eval_every > 0) return [];
  return ['--training.eval_every', String(Math.max(1, Math.ceil(base.training.steps / 10)))];
}

interface ArenaRunSpec {
  method: string;
  seed: number;
  /** the arena's folder: each run writes into `<dir>/<method>-s<seed>` */
  dir: string;
  /** the arena's overrides, applied before the run's own */
  overrides: string[];
}

/** One method and seed, trained from the config file under its own preset, seed, run name and folder. */
async function trainArenaRun(o: ArenaOptions, { method, seed, dir, overrides }: ArenaRunSpec): Promise<ArenaRun> {
  const id = `${method}-s${seed}`;
  const config = loadTrainConfig(o.config, [
    ...overrides,
    '--algorithm.preset',
    method,
    '--seed',
    String(seed),
    '--out_dir',
    dir,
    '--name',
    id,
    '--overwrite',
    'true',
  ]);
  const t0 = performance.now();
  const r = await train(config, o.trainOptions);
  if (r.interrupted) throw new GrpoError('interrupted', `the arena stopped during ${id}; finished runs are in ${dir}`);
  return {
    method,
    seed,
    id,
    metrics: r.metrics,
    accuracyBefore: r.accuracyBefore,
    accuracyAfter: r.accuracyAfter,
    seconds: (performance.now() - t0) / 1000,
  };
}
