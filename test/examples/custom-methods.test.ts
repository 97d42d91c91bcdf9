/**
 * The README's extension example: a custom reward, advantage estimator and policy loss in a plugin the YAML names,
 * selected from YAML, train.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTrainConfig, train, trainConfig } from '../../src/index.ts';
import { tinyModelFolder, toyTasks } from '../trainer/fixtures.ts';

const modelDir = tinyModelFolder();
const exampleFile = path.join(import.meta.dirname, '../../examples/custom-methods.ts');
const out = mkdtempSync(path.join(tmpdir(), 'grpo-example-'));
test.after(() => {
  for (const d of [out, path.dirname(modelDir)]) rmSync(d, { recursive: true, force: true });
});

test('README shows the example file as it is', () => {
  const readme = readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
  const example = readFileSync(path.join(import.meta.dirname, '../../examples/custom-methods.ts'), 'utf8');
  assert.ok(readme.includes(example.trim()), 'README embeds examples/custom-methods.ts verbatim');
});

test('the registered methods are selected from YAML and train', async () => {
  const file = path.join(out, 'custom.yaml');
  writeFileSync(
    file,
    `
name: custom
out_dir: ${out}
plugins: [${path.relative(out, exampleFile)}]
model: { path: ${modelDir}, threads: 1, precision: f32 }
data: { train: 'embedded:toy', eval: 'embedded:toy', eval_size: 4 }
rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 8 }
rewards:
  - type: vowels
    options: { letters: a }
algorithm: { advantage: median_baseline, loss: vanilla_pg, pg_scale: 2, kl_beta: 0 }
optimizer: { lr: 0.03 }
training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0 }
`,
  );
  const { config } = await trainConfig.loadAsync(file);
  const seen: { reward: number; advantage: number; group: number }[][] = [];
  const r = await train(config, {
    tasks: toyTasks,
    quiet: true,
    beforeUpdate: (_s, seqs) => {
      seen.push(seqs.map((s) => ({ reward: s.reward, advantage: s.advantages[0], group: s.group })));
    },
  });
  assert.equal(r.steps, 3);
  assert.ok(r.metrics.every((m) => typeof m['rewards/vowels/mean'] === 'number' && Number.isFinite(m.loss as number)));
  // the median baseline: in a group of 4, the mean of the two middle rewards is subtracted
  for (const seqs of seen)
    for (const g of new Set(seqs.map((s) => s.group))) {
      const group = seqs.filter((s) => s.group === g);
      const sorted = group.map((s) => s.reward).sort((a, b) => a - b);
      group.forEach((s) => assert.ok(Math.abs(s.advantage - (s.reward - (sorted[1] + sorted[2]) / 2)) < 1e-12));
    }
  // an option the chosen methods do not take, or a reward option its schema does not know, is one clear error
  writeFileSync(file, readFileSync(file, 'utf8').replace('pg_scale: 2', 'pg_scal: 2'));
  assert.throws(() => loadTrainConfig(file), /'algorithm\.pg_scal': unknown key \(did you mean 'pg_scale'\?\)/);
  writeFileSync(file, readFileSync(file, 'utf8').replace('letters: a', 'leters: a'));
  assert.throws(
    () => loadTrainConfig(file),
    /options\.leters is not an option of reward 'vowels' \(its options: letters\)/,
  );
});
