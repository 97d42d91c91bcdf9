// A few demo training steps through train() on the device: what it samples, scores, and how its loss moves equal
// the CPU run of the same config (both f32, same seed), within the suite's tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../src/trainer/trainer.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from '../test/trainer/fixtures.ts';
import { DEVICE, SKIP } from './device-fixtures.ts';

/** Metrics compared step by step; sampled tokens decide the rewards, the loss and KL follow from log-probs. */
const COMPARED = ['reward', 'loss', 'kl', 'grad_norm', 'completion_length', 'accuracy'];
/** Relative tolerance of a whole training step: the gradient and AdamW's update compound the device's last-bit
 * differences (1e-4 per op, test/engine.test.ts) over three steps. */
const STEP_TOL = 2e-3;

test(`${DEVICE}: three GRPO steps through train() sample the same completions and move the loss as on the CPU`, {
  skip: SKIP,
}, async () => {
  const modelDir = tinyModelFolder();
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-device-train-'));
  try {
    const run = async (device: string) => {
      const cfg = toyConfig(modelDir, out, {
        name: device.replace(':', '-'),
        overwrite: true,
        model: { path: modelDir, threads: 1, precision: 'f32', device },
        data: { eval_size: 2 },
        rollout: { prompts_per_step: 2, group_size: 4, max_tokens: 6 },
        algorithm: { preset: 'grpo', kl_beta: 0.04 },
        optimizer: { lr: 3e-2 },
        training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0 },
      });
      return (await train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true })).metrics;
    };
    const [cpu, dev] = [await run('cpu'), await run(DEVICE)];
    assert.equal(dev.length, 3);
    for (let i = 0; i < cpu.length; i++) {
      for (const key of COMPARED) {
        const [a, b] = [cpu[i][key], dev[i][key]];
        if (typeof a !== 'number') {
          assert.equal(b, a, `step ${i + 1} ${key}`);
          continue;
        }
        assert.ok(
          Math.abs(a - (b as number)) <= STEP_TOL * Math.max(1, Math.abs(a)),
          `step ${i + 1} ${key}: CPU ${a}, ${DEVICE} ${b}`,
        );
      }
    }
    assert.ok(
      cpu.some((m) => (m.loss as number) !== 0),
      'the steps trained (a nonzero loss)',
    );
  } finally {
    for (const d of [out, path.dirname(modelDir)]) rmSync(d, { recursive: true, force: true });
  }
});
