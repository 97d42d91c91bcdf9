/**
 * Asynchronous RL, side by side in one command: the demo (configs/demo.yaml) with its rollouts on local `grpo serve`
 * children (rollout.local_servers), synchronous (max_staleness 0) and asynchronous (max_staleness 1), the trainer and
 * each server on one thread (a 2-core machine: one core each).
 *   npm run bench:async [-- --steps N --servers S --staleness 0,1]
 * Prints one JSON line per run — wall-clock seconds, the trainer's summed wait for rollouts (async/wait_ms) and its
 * share of the wall-clock, the held-out accuracy before and after, the largest staleness — then the ratio of each
 * asynchronous run's wall-clock to the synchronous one's. Run it on a quiet machine: other work on the same cores
 * slows one side more than the other.
 */
import { loadTrainConfig } from '../src/trainer/config/load.ts';
import { train } from '../src/trainer/trainer.ts';
import { embeddedTaskSplits } from '../src/data/synthetic/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const steps = arg('steps', '60');
const servers = arg('servers', '1');
const staleness = arg('staleness', '0,1').split(',').map(Number);
const out = mkdtempSync(path.join(os.tmpdir(), 'grpo-bench-async-'));

const walls = new Map<number, number>();
try {
  for (const k of staleness) {
    const config = loadTrainConfig('configs/demo.yaml', [
      `--name=async-${k}`,
      `--out_dir=${out}`,
      '--model.threads=1',
      `--rollout.local_servers=${servers}`,
      '--rollout.local_server_threads=1',
      `--rollout.max_staleness=${k}`,
      `--training.steps=${steps}`,
    ]);
    const t0 = performance.now();
    const r = await train(config, { quiet: true, tasks: embeddedTaskSplits });
    const wall = (performance.now() - t0) / 1000;
    const waited = r.metrics.reduce((s, m) => s + ((m['async/wait_ms'] as number) ?? 0), 0) / 1000;
    walls.set(k, wall);
    console.log(
      JSON.stringify({
        max_staleness: k,
        servers: Number(servers),
        steps: r.steps,
        wall_s: +wall.toFixed(1),
        wait_s: +waited.toFixed(1),
        wait_share: +(waited / wall).toFixed(3),
        accuracy_before: r.accuracyBefore,
        accuracy_after: r.accuracyAfter,
        staleness_max: Math.max(...r.metrics.map((m) => (m['async/staleness_max'] as number) ?? 0)),
      }),
    );
  }
  const base = walls.get(0);
  if (base)
    for (const [k, wall] of walls)
      if (k > 0) console.log(`max_staleness ${k}: ${(wall / base).toFixed(3)}× the wall-clock of max_staleness 0`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
