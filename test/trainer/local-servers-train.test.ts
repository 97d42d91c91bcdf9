/**
 * `rollout.local_servers`: the run starts its own `grpo serve` processes on the starting policy (here the shipped
 * embedded model), takes every rollout from them and pushes each step's weights to them; they are gone when the run
 * ends, also when it ends with an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig, validateTrainConfig } from '../../src/trainer/config/load.ts';
import { train } from '../../src/trainer/trainer.ts';
import { localServerThreads, trainerThreads } from '../../src/trainer/local-server-plan.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { alive, localServerChildren, until } from '../rollout/process-alive.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** configs/demo.yaml made small: a few steps of 4 prompts × 8, one thread for the trainer */
function demoConfig(out: string, steps: number) {
  return loadTrainConfig(path.join(root, 'configs/demo.yaml'), [
    ...['--out_dir', out, '--model.threads', '1', '--rollout.local_servers', '1'],
    ...['--rollout.prompts_per_step', '4', '--training.steps', String(steps), '--data.eval_size', '8'],
    ...['--training.eval_every', '0', '--training.save_every', '0', '--training.log_completions_every', '0'],
  ]);
}

test('rollout.local_servers: 1 trains on rollouts from its own grpo serve, which is gone when the run ends', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-local-servers-'));
  try {
    const seen = new Set<number>();
    const r = await train(demoConfig(out, 3), {
      tasks: embeddedTaskSplits,
      quiet: true,
      onStep: () => {
        for (const pid of localServerChildren()) seen.add(pid);
      },
    });
    const fleet = JSON.stringify(r.metrics.map((m) => [m.reward, m['fleet/servers_up'], m['fleet/requests_0']]));
    assert.equal(r.metrics.length, 3);
    assert.ok(
      r.metrics.every((m) => Number.isFinite(m.reward as number)),
      `[reward, servers up, requests] per step: ${fleet}`,
    );
    assert.ok(
      r.metrics.every((m) => m['fleet/servers_up'] === 1),
      `[reward, servers up, requests] per step: ${fleet}`,
    );
    const served = r.metrics.map((m) => m['fleet/requests_0'] as number);
    assert.ok(served[0] > 0 && served[2] > served[1] && served[1] > served[0], `requests served: ${served}`);
    assert.equal(seen.size, 1, `one server, the same for every step: ${[...seen]}`);
    assert.deepEqual(localServerChildren(), [], 'no server is left once train() returns');
    for (const pid of seen) assert.ok(!alive(pid));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a run that fails mid-way stops its local servers too', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-local-servers-fail-'));
  try {
    let pids: number[] = [];
    await assert.rejects(
      train(demoConfig(out, 4), {
        tasks: embeddedTaskSplits,
        quiet: true,
        beforeUpdate: (step) => {
          pids = localServerChildren();
          if (step === 2) throw new Error('injected failure');
        },
      }),
      /injected failure/,
    );
    assert.equal(pids.length, 1);
    assert.ok(await until(() => !pids.some(alive), 30_000), 'the server outlived the failed run');
    assert.deepEqual(localServerChildren(), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('rollout.local_servers: config checks and the split of the cores', () => {
  const base = { model: { path: 'embedded' }, data: { train: 'embedded:addition' } };
  assert.throws(
    () => validateTrainConfig({ ...base, rollout: { local_servers: 2, base_url: 'http://127.0.0.1:8000/v1' } }),
    (e: unknown) => e instanceof GrpoError && /rollout\.local_servers.*base_url/.test(e.message),
  );
  assert.throws(
    () => validateTrainConfig({ ...base, rollout: { local_server_threads: 2 } }),
    (e: unknown) => e instanceof GrpoError && /rollout\.local_server_threads/.test(e.message),
  );
  assert.throws(
    () => validateTrainConfig({ ...base, rollout: { local_servers: 0 } }),
    (e: unknown) => e instanceof GrpoError && /rollout\.local_servers/.test(e.message),
  );

  const split = (rollout: object, model: object = {}, cores = 8) =>
    localServerThreads(validateTrainConfig({ ...base, model: { ...base.model, ...model }, rollout }), cores);
  assert.equal(split({}), null);
  assert.deepEqual(split({ local_servers: 1 }), { server: 4, trainer: 4 });
  assert.deepEqual(split({ local_servers: 3 }), { server: 2, trainer: 2 });
  assert.deepEqual(split({ local_servers: 3 }, {}, 2), { server: 1, trainer: 1 }, 'at least one thread each');
  assert.deepEqual(split({ local_servers: 2 }, { threads: 4 }), { server: 2, trainer: 4 }, 'the rest, split');
  assert.deepEqual(split({ local_servers: 2, local_server_threads: 3 }), { server: 3, trainer: 2 });
  const cfg = validateTrainConfig({ ...base, rollout: { local_servers: 1 } });
  assert.equal(trainerThreads(cfg), localServerThreads(cfg)!.trainer);
  assert.equal(trainerThreads(validateTrainConfig(base)), undefined, 'without local servers: one per core, as before');
});
