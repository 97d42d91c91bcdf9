/**
 * `grpo arena`: the same task from the same start (model, data, config) trained with each method and seed, one
 * run after another, then compared (report.ts). Only `algorithm.preset` and `seed` differ between runs; every
 * other key — method knobs set in the file included — is the file's, for every method.
 */
import path from 'node:path';
import { loadTrainConfig } from '../trainer/config/load.ts';
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
  const methods = o.methods.map((m) => m.trim()).filter(Boolean);
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
  const seeds = o.seeds ?? 1;
  if (!Number.isInteger(seeds) || seeds < 1)
    throw new GrpoError('config', `--seeds takes a whole number ≥ 1, got ${seeds}`);
  const base = loadTrainConfig(o.config, o.overrides ?? []);
  const name = o.name ?? `arena-${base.name}`;
  const dir = path.join(base.out_dir, name);
  // without evaluations during training there is no curve to reach a target on: evaluate about ten times
  const evalEvery =
    base.training.eval_every > 0
      ? []
      : ['--training.eval_every', String(Math.max(1, Math.ceil(base.training.steps / 10)))];
  const runs: ArenaRun[] = [];
  const total = methods.length * seeds;
  for (const method of methods) {
    for (let k = 0; k < seeds; k++) {
      const seed = base.seed + k;
      const id = `${method}-s${seed}`;
      o.onRun?.(runs.length, total, method, seed);
      const config = loadTrainConfig(o.config, [
        ...(o.overrides ?? []),
        ...evalEvery,
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
      if (r.interrupted)
        throw new GrpoError('interrupted', `the arena stopped during ${id}; finished runs are in ${dir}`);
      runs.push({
        method,
        seed,
        id,
        metrics: r.metrics,
        accuracyBefore: r.accuracyBefore,
        accuracyAfter: r.accuracyAfter,
        seconds: (performance.now() - t0) / 1000,
      });
    }
  }
  return { name, dir, configFile: o.config, runs };
}
