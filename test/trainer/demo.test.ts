/**
 * The main job (`npm start` = configs/demo.yaml): GRPO on the shipped embedded model must raise held-out
 * accuracy by at least 25 points from an SFT start between 10% and 60%. Deterministic from the config's seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig } from '../../src/trainer/config/load.ts';
import { train } from '../../src/trainer/trainer.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('npm start: GRPO on the embedded model lifts held-out accuracy by ≥ 25 points', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-demo-'));
  try {
    const config = loadTrainConfig(path.join(root, 'configs/demo.yaml'), ['--out_dir', out, '--model.threads', '1']);
    const r = await train(config, { tasks: embeddedTaskSplits, quiet: true });
    assert.ok(r.accuracyBefore! >= 0.1 && r.accuracyBefore! <= 0.6, `SFT start ${r.accuracyBefore}`);
    assert.ok(r.accuracyAfter! - r.accuracyBefore! >= 0.25, `accuracy ${r.accuracyBefore} → ${r.accuracyAfter}`);
    for (const f of [
      'metrics.jsonl',
      'completions.jsonl',
      'final/model.safetensors',
      'final/tokenizer.json',
      'checkpoint/state.json',
    ]) {
      assert.ok(existsSync(path.join(out, 'demo', f)), f);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
