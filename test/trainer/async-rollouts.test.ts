/**
 * Asynchronous RL against a real `grpo serve` (rollout.max_staleness): the next batch is generated while the current
 * one trains, exactly one policy version behind; the reward still rises; a run stopped and resumed trains on the
 * batch it had generated ahead and ends exactly as the uninterrupted run; with LoRA the adapters of the versions
 * still sampled stay loaded; and what cannot be asynchronous is refused.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { resolveRunPlan } from '../../src/trainer/run-plan.ts';
import { readSafetensors } from '../../src/model/io/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';
import { serveModel } from '../serve/fixtures.ts';

const root = mkdtempSync(path.join(tmpdir(), 'grpo-async-'));
const modelDir = tinyModelFolder(root);
const server = await serveModel(modelDir, { allowRuntimeUpdates: true });
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const asyncConfig = (name: string, extra: Record<string, unknown> = {}) =>
  toyConfig(modelDir, root, {
    name,
    algorithm: { preset: 'grpo', kl_beta: 0 },
    optimizer: { lr: 3e-2 },
    rollout: { engine: 'openai', base_url: `${server.url}/v1`, max_staleness: 1 },
    training: { steps: 24, save_every: 0 },
    ...extra,
  });
const opts = { rewards: [shareOfA], tasks: toyTasks, quiet: true };
const series = (ms: Record<string, unknown>[], key: string) => ms.map((m) => m[key]);

test('max_staleness 1: every batch after the first is sampled one version behind; the reward rises; resume is exact', async () => {
  const whole = await train(asyncConfig('whole'), opts);
  assert.equal(whole.metrics.length, 24);
  assert.deepEqual(series(whole.metrics, 'async/staleness_max'), [0, ...Array(23).fill(1)]);
  assert.deepEqual(series(whole.metrics, 'async/staleness_mean'), [0, ...Array(23).fill(1)]);
  assert.ok(whole.metrics.every((m) => typeof m['async/wait_ms'] === 'number'));
  const avg = (ms: typeof whole.metrics) => ms.reduce((s, m) => s + (m.reward as number), 0) / ms.length;
  assert.ok(
    avg(whole.metrics.slice(-4)) > avg(whole.metrics.slice(0, 4)) + 0.15,
    `reward ${avg(whole.metrics.slice(0, 4))} → ${avg(whole.metrics.slice(-4))}`,
  );

  // stopped after 11 steps: its checkpoint holds the batch of step 12, generated while step 11 trained
  const first = await train(asyncConfig('split'), { ...opts, stopAfter: 11 });
  assert.equal(first.steps, 11);
  assert.ok(existsSync(path.join(root, 'split', 'checkpoint', 'rollouts-ahead.json')));
  const rest = await train(asyncConfig('split'), { ...opts, resume: path.join(root, 'split', 'checkpoint') });
  const split = [...first.metrics, ...rest.metrics];
  for (const key of ['reward', 'loss', 'grad_norm', 'completion_length', 'async/staleness_mean'])
    assert.deepEqual(series(split, key), series(whole.metrics, key), key);
  const weights = (name: string) => readSafetensors(path.join(root, name, 'final', 'model.safetensors'));
  const a = weights('whole'),
    b = weights('split');
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
});

test('LoRA with max_staleness 1: the adapter still named by requests in flight stays loaded; older ones are unloaded', async () => {
  const r = await train(
    asyncConfig('lora', {
      model: { path: modelDir, threads: 1, precision: 'f32', lora: { r: 4, alpha: 8 } },
      training: { steps: 6, save_every: 0 },
    }),
    opts,
  );
  assert.equal(r.metrics.length, 6);
  const listed = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string }[] };
  assert.deepEqual(
    listed.data
      .map((m) => m.id)
      .filter((id) => id.startsWith('grpo-policy-'))
      .sort(),
    ['grpo-policy-5', 'grpo-policy-6'],
  );
  const dirs = ['grpo-policy-4', 'grpo-policy-5', 'grpo-policy-6'].map((d) =>
    existsSync(path.join(root, 'lora', 'rollout-weights', d)),
  );
  assert.deepEqual(dirs, [false, true, true]);
});

test('asynchronous rollouts default to AReaL’s decoupled loss unless a correction is chosen; what cannot overlap is refused', async () => {
  const plan = resolveRunPlan(asyncConfig('plan'));
  assert.equal(plan.algorithm.rollout_correction, 'token_mask');
  assert.equal(plan.algorithm.rollout_correction_max, 5);
  assert.equal(plan.algorithm.rollout_correction_min, 0);
  const chosen = resolveRunPlan(
    asyncConfig('plan', { algorithm: { preset: 'grpo', kl_beta: 0, rollout_correction: 'none' } }),
  );
  assert.equal(chosen.algorithm.rollout_correction, 'none');
  const sync = resolveRunPlan(toyConfig(modelDir, root, { rollout: { engine: 'openai', base_url: 'http://x/v1' } }));
  assert.equal(sync.algorithm.rollout_correction, 'none');

  const refused = async (rollout: Record<string, unknown>, pattern: RegExp) =>
    assert.rejects(
      train(toyConfig(modelDir, root, { name: 'refused', overwrite: true, rollout }), opts),
      (e: unknown) => e instanceof GrpoError && e.code === 'config' && pattern.test(e.message),
    );
  await refused({ max_staleness: 1 }, /max_staleness 1 needs rollout servers/);
  await refused(
    { engine: 'openai', base_url: `${server.url}/v1`, max_staleness: 2, weight_sync: 'none' },
    /weight_sync 'none' never sends/,
  );
});
