/** train() from the library behaves as `grpo train`: the built-in embedded tasks need no option. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train, validateTrainConfig } from '../../src/index.ts';

const out = mkdtempSync(path.join(tmpdir(), 'grpo-defaults-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

const config = (name: string) =>
  validateTrainConfig({
    name,
    out_dir: out,
    model: { path: 'embedded', threads: 1 },
    data: { train: 'embedded:addition', eval_size: 2 },
    rollout: { prompts_per_step: 2, group_size: 2, max_tokens: 6 },
    training: { steps: 1, log_completions_every: 1 },
  });
const loggedPrompts = (name: string) =>
  readFileSync(path.join(out, name, 'completions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.prompt !== undefined)
    .map((r) => r.prompt as string);

test('train() knows the built-in embedded tasks without a tasks option', async () => {
  const r = await train(config('builtin'), { quiet: true });
  assert.equal(r.steps, 1);
  assert.match(loggedPrompts('builtin')[0], /^\d+\+\d+=$/);
  // a reward that decides correctness (the default math reward): accuracy is a number
  assert.equal(typeof r.accuracyAfter, 'number');
});

test('the tasks option adds embedded tasks, or replaces a built-in one by name', async () => {
  const mine = (split: 'train' | 'test') =>
    Array.from({ length: split === 'train' ? 8 : 2 }, (_, i) => ({ id: `${split}-${i}`, prompt: '1+1=', answer: '2' }));
  const r = await train(config('replaced'), { quiet: true, tasks: { addition: mine } });
  assert.equal(r.steps, 1);
  assert.deepEqual(loggedPrompts('replaced'), ['1+1=']);
});
