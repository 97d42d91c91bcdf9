/** A plain `{prompt, answer}` JSONL (the README's "or prompt + answer") through every command that reads data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDataset } from '../../src/data/presets.ts';
import { readExamples } from '../../src/data/examples.ts';
import { loadExamples } from '../../src/trainer/prompts.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { runEval } from '../../src/cli/eval.ts';
import { sftCommand } from '../../src/cli/sft.ts';
import { loadTaskSplits, taskSchema } from '../../src/trainingfree/common/config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'grpo-prompt-answer-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const rows = [
  { prompt: '612+720=', answer: 1332, completion: '<think>2+0=2,1+2=3,6+7=13</think><answer>1332</answer>' },
  { prompt: '138+403=', answer: '541', completion: '<think>8+3=11,3+0+1=4,1+4=5</think><answer>541</answer>' },
];
const file = path.join(dir, 'plain.jsonl');
writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
const expected = [
  ['612+720=', '1332'],
  ['138+403=', '541'],
];

test('the library readers take {prompt, answer} rows as they are', async () => {
  const pairs = (e: { prompt: string; answer?: string }[]) => e.map((x) => [x.prompt, x.answer]);
  assert.deepEqual(pairs(await loadDataset(file)), expected);
  assert.deepEqual((await loadDataset(file))[0].completion, rows[0].completion, "the row's other fields stay");
  assert.deepEqual(pairs(await readExamples({ path: file })), expected);
  // grpo train's data.train / data.eval
  const config = validateTrainConfig({ model: { path: 'embedded' }, data: { train: file } });
  assert.deepEqual(pairs(await loadExamples(file, config, 'train', {})), expected);
  // tfgrpo / gepa: input_field defaults to 'question', or 'prompt' where the rows have no question
  const splits = await loadTaskSplits(taskSchema.parse({ train: file, test: file }), dir);
  assert.deepEqual(
    splits.train.map((e) => [e.input, e.answer]),
    expected,
  );
});

test('grpo eval and grpo sft read a {prompt, answer} file', async () => {
  const lines: string[] = [];
  const report = await runEval({ model: 'embedded', data: file, maxTokens: 4, threads: 1 }, (l) => lines.push(l));
  assert.equal(report.prompts, 2);
  assert.match(lines[0], /^accuracy=\d\.\d{3} format_rate=/);
  const log: string[] = [];
  const r = await sftCommand(
    null,
    [
      ...['--model.path', 'embedded', '--model.threads', '1', '--data.train', file, '--data.eval', file],
      ...['--training.max_steps', '1', '--training.batch_size', '2', '--training.eval_max_tokens', '4'],
      ...['--out_dir', dir, '--progress', 'false'],
    ],
    (l) => log.push(l),
  );
  assert.equal(r.train.steps, 1);
  assert.equal(r.before?.prompts, 2);
  assert.ok(readFileSync(path.join(dir, 'sft', 'metrics.jsonl'), 'utf8').length > 0);
});
