/** `model.lora.r` past a target matrix's smaller side is refused before a run starts, naming the matrix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';

const modelDir = tinyModelFolder();
const out = mkdtempSync(path.join(tmpdir(), 'grpo-lora-rank-'));
test.after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(path.dirname(modelDir), { recursive: true, force: true });
});

test("grpo train refuses a LoRA rank larger than a target matrix's smaller side, naming it", async () => {
  // the tiny model's k_proj is [8, 16] (2 kv heads of 4)
  const config = (r: number) =>
    toyConfig(modelDir, out, {
      name: `r${r}`,
      model: { path: modelDir, threads: 1, precision: 'f32', lora: { r } },
      training: { steps: 1, micro_batch_groups: 2, log_completions_every: 0 },
    });
  await assert.rejects(
    train(config(9), { rewards: [shareOfA], tasks: toyTasks, quiet: true }),
    (e: unknown) =>
      e instanceof GrpoError &&
      e.code === 'config' &&
      /^'model\.lora\.r' 9 exceeds the smaller side of 'model\.layers\.0\.self_attn\.k_proj\.weight' \[8, 16\]/.test(
        e.message,
      ),
  );
  const ok = await train(config(8), { rewards: [shareOfA], tasks: toyTasks, quiet: true });
  assert.equal(ok.steps, 1);
});
