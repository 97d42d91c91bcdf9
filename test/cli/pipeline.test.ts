/** grpo pipeline: R1's stages from one config, each from the previous model, resumable, with one summary table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadPipelineConfig, runPipeline, type PipelineConfig } from '../../src/cli/pipeline.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';
import { GrpoError } from '../../src/errors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'grpo-pipeline-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped example, shrunk to a few steps of each stage. */
function smallExample(): PipelineConfig {
  const c = loadPipelineConfig(path.join(import.meta.dirname, '../../configs/r1-pipeline.yaml'));
  const [cold, rl, rejection, rl2] = c.stages.map((s) => s.config as Record<string, Record<string, unknown>>);
  cold.data.limit = 64; cold.training = { max_steps: 2, batch_size: 16, eval_final: true, eval_max_tokens: 41 };
  rejection.rejection = { prompts: 8, n: 2, threshold: 0 }; rejection.training = { max_steps: 2, batch_size: 8, eval_final: false };
  for (const r of [rl, rl2]) {
    r.data.eval_size = 8; r.rollout.prompts_per_step = 2; r.rollout.group_size = 2;
    r.training = { steps: 2, micro_batch_groups: 2, log_completions_every: 0, save_every: 1 };
  }
  return { ...c, out_dir: dir };
}

test('the R1 example runs stage after stage, each from the previous model; a rerun skips what is done', async () => {
  const config = smallExample();
  const lines: string[] = [];
  const first = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => lines.push(l) });
  assert.deepEqual(first.map((s) => [s.stage, s.kind, s.steps, s.skipped]), [['cold_start', 'sft', 2, false], ['rl', 'train', 2, false], ['rejection', 'sft', 2, false], ['rl2', 'train', 2, false]]);
  const run = path.join(dir, 'r1-addition');
  assert.deepEqual(first.map((s) => s.model), [path.join(run, 'cold_start', 'model'), path.join(run, 'rl', 'final'), path.join(run, 'rejection', 'model'), path.join(run, 'rl2', 'final')]);
  // each stage started from the one before
  assert.ok(lines.includes(`stage rl (train) from ${path.join(run, 'cold_start', 'model')}`));
  assert.ok(lines.includes(`stage rl2 (train) from ${path.join(run, 'rejection', 'model')}`));
  assert.equal((YAML.parse(readFileSync(path.join(run, 'rl', 'checkpoint', 'state.json'), 'utf8')) as { config: { model: { path: string } } }).config.model.path, path.join(run, 'cold_start', 'model'));
  const table = readFileSync(path.join(run, 'summary.md'), 'utf8');
  assert.match(table, /^\| stage \| kind \| steps \| accuracy before \| accuracy after \| model \|/);
  assert.equal(table.trim().split('\n').length, 6);

  // an RL stage stopped before it recorded itself resumes from its checkpoint; finished stages are skipped
  unlinkSync(path.join(run, 'rl2', 'stage.json'));
  const again: string[] = [];
  const second = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => again.push(l) });
  assert.deepEqual(second.map((s) => s.skipped), [true, true, true, false]);
  assert.ok(again.includes(`stage rl2: resuming from ${path.join(run, 'rl2', 'checkpoint')}`));
  assert.equal(second[3].steps, 2);
});

test('pipeline configs are checked: one line naming the problem', () => {
  const file = path.join(dir, 'bad.yaml');
  const bad = (c: unknown, re: RegExp) => {
    writeFileSync(file, YAML.stringify(c));
    assert.throws(() => loadPipelineConfig(file), (e: unknown) => e instanceof GrpoError && re.test(e.message) && !e.message.includes('\n'));
  };
  bad({ model: 'embedded', stages: [] }, /'stages'/);
  bad({ model: 'embedded', stages: [{ name: 'a', kind: 'grpo' }] }, /'stages\.0\.kind'/);
  bad({ model: 'embedded', stages: [{ name: 'a', kind: 'sft' }, { name: 'a', kind: 'sft' }] }, /stage name 'a' is used twice/);
  assert.ok(!existsSync(path.join(dir, 'pipeline')));
});

test('a stage may not set what the pipeline wires (output folders), nor train LoRA', async () => {
  const run = (stage: Record<string, unknown>) => runPipeline({ name: 'p', out_dir: dir, model: 'embedded', stages: [stage as never] }, { log: () => {} });
  await assert.rejects(run({ name: 's', kind: 'sft', config: { output_dir: 'x' } }), /stage 's': output_dir is set by the pipeline/);
  await assert.rejects(run({ name: 's', kind: 'sft', config: { name: 'x', out_dir: 'y' } }), /stage 's': name, out_dir are set by the pipeline/);
  await assert.rejects(run({ name: 't', kind: 'train', config: { data: { train: 'embedded:addition' }, model: { lora: {} } } }), /stage 't': a pipeline stage trains every weight/);
  await assert.rejects(run({ name: 't', kind: 'train', config: { data: { train: 'embedded:addition' }, rollout: { group_sise: 2 } } }), /stage 't': .*rollout\.group_sise/);
});
