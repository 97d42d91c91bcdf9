/**
 * The multi-turn tool demo (`npm run demo:tools` = configs/demo-tools.yaml), shortened: GRPO with the calculator in
 * the loop must lift held-out greedy accuracy by at least 30 points and make the model call the tool in at least
 * half of the episodes more than before. Deterministic from the config's seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig } from '../../src/trainer/config/load.ts';
import { train } from '../../src/trainer/trainer.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('npm run demo:tools: GRPO with a calculator raises held-out accuracy by ≥ 30 points and tool use by ≥ 0.5 calls per episode', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-demo-tools-'));
  try {
    const config = loadTrainConfig(path.join(root, 'configs/demo-tools.yaml'), [
      '--out_dir',
      out,
      '--model.path',
      path.join(root, 'models/tools'),
      '--model.threads',
      '1',
      '--training.steps',
      '12',
      '--data.eval_size',
      '100',
    ]);
    const r = await train(config, { tasks: embeddedTaskSplits, quiet: true });
    assert.ok(r.accuracyBefore! <= 0.2, `the SFT start answers by hand: accuracy ${r.accuracyBefore}`);
    assert.ok(r.accuracyAfter! - r.accuracyBefore! >= 0.3, `accuracy ${r.accuracyBefore} → ${r.accuracyAfter}`);
    assert.ok(
      r.toolCallsAfter! - r.toolCallsBefore! >= 0.5,
      `tool calls per episode ${r.toolCallsBefore} → ${r.toolCallsAfter}`,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
