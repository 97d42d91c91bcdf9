/**
 * RL against a fleet of two real `grpo serve` processes, one killed mid-run: the run completes all its steps on the
 * other, which holds the trained weights at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';
import { startServeProcess } from '../rollout/serve-process.ts';

test('a fleet of two grpo serve processes, one killed mid-run: every step completes', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-fleet-train-'));
  const modelDir = tinyModelFolder(root);
  const [a, b] = await Promise.all([startServeProcess(modelDir), startServeProcess(modelDir)]);
  try {
    const steps = 8;
    const cfg = toyConfig(modelDir, root, {
      name: 'fleet',
      algorithm: { preset: 'grpo', kl_beta: 0 },
      optimizer: { lr: 3e-2 },
      rollout: { engine: 'openai', base_url: [a.baseUrl, b.baseUrl], concurrency: 2 },
      training: { steps },
    });
    let killed: Promise<void> | null = null;
    const r = await train(cfg, {
      rewards: [shareOfA],
      tasks: toyTasks,
      quiet: true,
      beforeUpdate: (step) => {
        if (step === 3) killed ??= b.kill();
      },
    });
    await killed;
    assert.equal(r.metrics.length, steps);
    assert.ok(r.metrics.every((m) => Number.isFinite(m.reward as number)));
    // both served before the kill; afterwards the killed one is out and the other takes every request
    const before = r.metrics[1],
      last = r.metrics[steps - 1];
    assert.ok((before['fleet/requests_0'] as number) > 0 && (before['fleet/requests_1'] as number) > 0);
    assert.equal(last['fleet/servers_up'], 1);
    assert.equal(last['fleet/requests_1'], r.metrics[2]['fleet/requests_1']);
    assert.ok((last['fleet/requests_0'] as number) > (r.metrics[2]['fleet/requests_0'] as number));
  } finally {
    await Promise.all([a.kill(), b.kill()]);
    rmSync(root, { recursive: true, force: true });
  }
});
