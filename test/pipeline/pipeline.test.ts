/** grpo pipeline: R1's stages from one config, each from the previous model, resumable, with one summary table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadPipelineConfig, type PipelineConfig } from '../../src/pipeline/config.ts';
import { runPipeline } from '../../src/pipeline/pipeline.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { openModel } from '../../src/model/open-model.ts';
import type { LlamaModel } from '../../src/model/llama-model.ts';
import { EMBEDDED_MODEL_DIR } from '../../src/data/synthetic/embedded-model.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'grpo-pipeline-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped example, shrunk to a few steps of each stage. */
function smallExample(): PipelineConfig {
  const c = loadPipelineConfig(path.join(import.meta.dirname, '../../configs/r1-pipeline.yaml'));
  const [cold, rl, rejection, rl2] = c.stages.map((s) => s.config as Record<string, Record<string, unknown>>);
  cold.data.limit = 64;
  cold.training = { max_steps: 2, batch_size: 16, eval_final: true, eval_max_tokens: 41 };
  rejection.rejection = { prompts: 8, n: 2, threshold: 0 };
  rejection.training = { max_steps: 2, batch_size: 8, eval_final: false };
  for (const r of [rl, rl2]) {
    r.data.eval_size = 8;
    r.rollout.prompts_per_step = 2;
    r.rollout.group_size = 2;
    r.training = { steps: 2, micro_batch_groups: 2, log_completions_every: 0, save_every: 1 };
  }
  return { ...c, out_dir: dir };
}

test('the R1 example runs stage after stage, each from the previous model; a rerun skips what is done', async () => {
  const config = smallExample();
  const lines: string[] = [];
  const first = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => lines.push(l) });
  assert.deepEqual(
    first.map((s) => [s.stage, s.kind, s.steps, s.skipped]),
    [
      ['cold_start', 'sft', 2, false],
      ['rl', 'train', 2, false],
      ['rejection', 'sft', 2, false],
      ['rl2', 'train', 2, false],
    ],
  );
  const run = path.join(dir, 'r1-addition');
  assert.deepEqual(
    first.map((s) => s.model),
    [
      path.join(run, 'cold_start', 'model'),
      path.join(run, 'rl', 'final'),
      path.join(run, 'rejection', 'model'),
      path.join(run, 'rl2', 'final'),
    ],
  );
  // each stage started from the one before
  assert.ok(lines.includes(`stage rl (train) from ${path.join(run, 'cold_start', 'model')}`));
  assert.ok(lines.includes(`stage rl2 (train) from ${path.join(run, 'rejection', 'model')}`));
  assert.equal(
    (
      YAML.parse(readFileSync(path.join(run, 'rl', 'checkpoint', 'state.json'), 'utf8')) as {
        config: { model: { path: string } };
      }
    ).config.model.path,
    path.join(run, 'cold_start', 'model'),
  );
  const table = readFileSync(path.join(run, 'summary.md'), 'utf8');
  assert.match(table, /^\| stage \| kind \| steps \| accuracy before \| accuracy after \| model \|/);
  assert.equal(table.trim().split('\n').length, 6);

  // an RL stage stopped before it recorded itself resumes from its checkpoint; finished stages are skipped
  unlinkSync(path.join(run, 'rl2', 'stage.json'));
  const again: string[] = [];
  const second = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => again.push(l) });
  assert.deepEqual(
    second.map((s) => s.skipped),
    [true, true, true, false],
  );
  assert.ok(again.includes(`stage rl2: resuming from ${path.join(run, 'rl2', 'checkpoint')}`));
  assert.equal(second[3].steps, 2);
});

test('pipeline configs are checked: one line naming the problem', () => {
  const file = path.join(dir, 'bad.yaml');
  const bad = (c: unknown, re: RegExp) => {
    writeFileSync(file, YAML.stringify(c));
    assert.throws(
      () => loadPipelineConfig(file),
      (e: unknown) => e instanceof GrpoError && re.test(e.message) && !e.message.includes('\n'),
    );
  };
  bad({ model: 'embedded', stages: [] }, /'stages'/);
  bad({ model: 'embedded', stages: [{ name: 'a', kind: 'grpo' }] }, /'stages\.0\.kind'/);
  bad(
    {
      model: 'embedded',
      stages: [
        { name: 'a', kind: 'sft' },
        { name: 'a', kind: 'sft' },
      ],
    },
    /stage name 'a' is used twice/,
  );
  assert.ok(!existsSync(path.join(dir, 'pipeline')));
});

test("LoRA stages: each adapter is merged into its stage's base, and the next stage starts from the merged model", async () => {
  const config: PipelineConfig = {
    name: 'lora',
    out_dir: dir,
    model: 'embedded',
    stages: [
      {
        name: 'sft',
        kind: 'sft',
        config: {
          stage: 'cold_start',
          data: { train: 'embedded:addition', limit: 32 },
          training: { max_steps: 2, batch_size: 8, eval_final: false },
          optimizer: { lr: 1e-2 },
          model: { lora: { r: 4 }, threads: 1 },
        },
      },
      {
        name: 'rl',
        kind: 'train',
        config: {
          data: { train: 'embedded:addition', eval: 'embedded:addition', eval_size: 4 },
          rollout: { prompts_per_step: 2, group_size: 2, max_tokens: 41 },
          rewards: [{ type: 'math', weight: 1 }],
          algorithm: { preset: 'grpo' },
          optimizer: { lr: 1e-2 },
          model: { lora: { r: 4 }, threads: 1 },
          training: { steps: 2, micro_batch_groups: 2, log_completions_every: 0, save_every: 1 },
        },
      },
    ],
  };
  const lines: string[] = [];
  const first = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => lines.push(l) });
  const run = path.join(dir, 'lora');
  const sftMerged = path.join(run, 'sft', 'merged'),
    rlMerged = path.join(run, 'rl', 'merged');
  assert.deepEqual(
    first.map((s) => [s.model, s.adapter]),
    [
      [sftMerged, path.join(run, 'sft', 'model')],
      [rlMerged, path.join(run, 'rl', 'final')],
    ],
  );
  assert.ok(
    existsSync(path.join(run, 'sft', 'model', 'adapter_config.json')) &&
      existsSync(path.join(run, 'rl', 'final', 'adapter_config.json')),
  );
  // the RL stage trained its adapter on the merged SFT model
  assert.ok(lines.includes(`stage rl (train) from ${sftMerged}`));
  assert.equal(
    (
      JSON.parse(readFileSync(path.join(run, 'rl', 'final', 'adapter_config.json'), 'utf8')) as {
        base_model_name_or_path: string;
      }
    ).base_model_name_or_path,
    sftMerged,
  );

  // the merged model computes what its base with the adapter on computes (W + s·B·A), and differs from the base
  const tokens = [[1, 5, 7, 9, 4, 6, 3, 8]];
  const logp = (m: { model: LlamaModel }) => {
    try {
      return Array.from(m.model.forward(tokens).logp[0]);
    } finally {
      m.model.free();
    }
  };
  const opts = { threads: 1, precision: 'f32' as const, basePrecision: 'f32' as const };
  for (const [base, adapter, merged] of [
    [EMBEDDED_MODEL_DIR, path.join(run, 'sft', 'model'), sftMerged],
    [sftMerged, path.join(run, 'rl', 'final'), rlMerged],
  ]) {
    const withAdapter = logp(openModel(base, { ...opts, adapter }));
    const fromMerged = logp(openModel(merged, opts));
    withAdapter.forEach((x, t) =>
      assert.ok(Math.abs(x - fromMerged[t]) < 1e-4, `${merged} token ${t}: ${x} vs ${fromMerged[t]}`),
    );
    const baseAlone = logp(openModel(base, opts));
    assert.ok(
      baseAlone.some((x, t) => Math.abs(x - fromMerged[t]) > 1e-3),
      `${adapter} changed the model`,
    );
  }

  // a rerun skips the finished SFT stage and resumes the RL stage from its checkpoint, merging again
  unlinkSync(path.join(run, 'rl', 'stage.json'));
  const again: string[] = [];
  const second = await runPipeline(config, { tasks: embeddedTaskSplits, log: (l) => again.push(l) });
  assert.deepEqual(
    second.map((s) => [s.skipped, s.model]),
    [
      [true, sftMerged],
      [false, rlMerged],
    ],
  );
  assert.ok(again.includes(`stage rl: resuming from ${path.join(run, 'rl', 'checkpoint')}`));
  assert.ok(existsSync(path.join(rlMerged, 'model.safetensors')));
});

test('a stage may not set what the pipeline wires (output folders)', async () => {
  const run = (stage: Record<string, unknown>) =>
    runPipeline({ name: 'p', out_dir: dir, model: 'embedded', stages: [stage as never] }, { log: () => {} });
  await assert.rejects(
    run({ name: 's', kind: 'sft', config: { output_dir: 'x' } }),
    /stage 's': output_dir is set by the pipeline/,
  );
  await assert.rejects(
    run({ name: 's', kind: 'sft', config: { model: { path: null, lora: {} } } }),
    (e: unknown) => e instanceof GrpoError && /stage 's': a LoRA stage needs a starting model/.test(e.message),
  );
  await assert.rejects(
    run({ name: 's', kind: 'sft', config: { name: 'x', out_dir: 'y' } }),
    /stage 's': name, out_dir are set by the pipeline/,
  );
  await assert.rejects(
    run({ name: 't', kind: 'train', config: { data: { train: 'embedded:addition' }, rollout: { group_sise: 2 } } }),
    /stage 't': .*rollout\.group_sise/,
  );
});
