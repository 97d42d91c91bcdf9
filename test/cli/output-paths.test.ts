/** Output paths are checked before the work that fills them: missing folders are created, unwritable ones refused at once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runEval } from '../../src/cli/eval.ts';
import { runMerge } from '../../src/pipeline/merge-adapter.ts';
import { prepareOutputDir } from '../../src/util/output-path.ts';
import { train } from '../../src/trainer/trainer.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { GrpoError } from '../../src/errors.ts';

// a folder inside a regular file cannot exist, whoever asks (root included)
const scratch = mkdtempSync(path.join(tmpdir(), 'grpo-out-'));
writeFileSync(path.join(scratch, 'a-file'), 'x');
const unwritable = path.join(scratch, 'a-file', 'out');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const oneLine = (pattern: RegExp) => (e: unknown) =>
  e instanceof GrpoError && e.code === 'io' && pattern.test(e.message) && !e.message.includes('\n');

test('prepareOutputDir creates missing folders and refuses unwritable ones in one line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grpo-out-'));
  try {
    prepareOutputDir(path.join(dir, 'a', 'b'), 'x');
    assert.throws(
      () => prepareOutputDir(unwritable, 'the results'),
      oneLine(/cannot write the results to .*a-file\/out \(ENOTDIR\): choose a folder/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('grpo eval --out into a missing folder writes there; into an unwritable one fails before evaluating', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grpo-out-'));
  try {
    const out = path.join(dir, 'new', 'nested', 'completions.jsonl');
    await runEval({ model: 'embedded', data: 'embedded:addition', limit: 3, out, threads: 1 }, () => {});
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 3);
    const t0 = performance.now();
    await assert.rejects(
      runEval(
        { model: 'embedded', data: 'embedded:addition', limit: 500, out: path.join(unwritable, 'c.jsonl'), threads: 1 },
        () => {},
      ),
      oneLine(/--out/),
    );
    assert.ok(performance.now() - t0 < 2000, 'refused before the evaluation ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('grpo train and grpo merge refuse an unwritable output folder before opening the model', async () => {
  const cfg = validateTrainConfig({
    out_dir: unwritable,
    model: { path: 'embedded' },
    data: { train: 'embedded:addition' },
  });
  await assert.rejects(train(cfg, { quiet: true }), oneLine(/cannot write the run/));
  assert.throws(
    () =>
      runMerge(
        { model: '/nonexistent-model', adapter: '/nonexistent-adapter', out: path.join(unwritable, 'merged') },
        () => {},
      ),
    oneLine(/merged model \(--out\)/),
  );
});
