/**
 * `grpo pipeline --config FILE`: DeepSeek-R1's multi-stage recipe (R1 §2.3) as one config — cold-start SFT, RL,
 * rejection-sampling SFT, RL, or any list of `sft` and `train` stages. Each stage starts from the previous stage's
 * model, writes into one run folder (<out_dir>/<name>/<stage>/), and records itself as done; a rerun skips the
 * finished stages and resumes an interrupted RL stage from its checkpoint. A stage that trains LoRA adapters
 * (model.lora) has them merged into its starting model (W + s·B·A, PEFT's merge_and_unload) as <stage>/merged/,
 * a full f32 model written atomically, which the next stage starts from. A summary table ends the run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { GrpoError } from '../errors.ts';
import { defineConfig, runSectionFields } from '../config/index.ts';
import { parseSftConfig, type SftConfig } from '../trainer/sft-config.ts';
import { validateTrainConfig } from '../trainer/config/load.ts';
import { train } from '../trainer/trainer.ts';
import type { EmbeddedTasks } from '../trainer/prompts.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { runMerge } from './merge.ts';
import { runSft } from './sft.ts';

const stageSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[\w.-]+$/, 'use letters, digits, ".", "-" and "_"')
    .describe('stage name: its folder under the run'),
  kind: z
    .enum(['sft', 'train'])
    .describe('sft: a grpo sft config (cold_start or rejection_sampling); train: a grpo train config'),
  config: z
    .record(z.string(), z.unknown())
    .default({})
    .describe(
      "that command's config; model.path defaults to the previous stage's model, output paths to the stage folder",
    ),
});

export const pipelineConfigSchema = z.strictObject({
  ...runSectionFields('pipeline'),
  model: z.string().describe('the model the first stage starts from (a path, or embedded)'),
  stages: z.array(stageSchema).min(1).describe('the stages, in order'),
});

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

export interface StageSummary {
  stage: string;
  kind: 'sft' | 'train';
  steps: number;
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  model: string;
  /** a LoRA stage: the adapter it trained (`model` is then that adapter merged into the stage's starting model) */
  adapter?: string;
  /** finished in an earlier invocation */
  skipped: boolean;
}

/** What a finished stage leaves in its folder, so a rerun can skip it. */
const DONE_FILE = 'stage.json';

export const pipelineConfig = defineConfig({
  command: 'pipeline',
  schema: pipelineConfigSchema,
  check(c, label) {
    const names = c.stages.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice)
      throw new GrpoError('config', `${label}: stage name '${twice}' is used twice; each stage needs its own folder`);
  },
});

export function loadPipelineConfig(file: string, overrides: readonly string[] = []): PipelineConfig {
  return pipelineConfig.load(file, overrides).config;
}

/** A stage's own config with the pipeline's wiring: its starting model and its output folder. */
function stageConfig(
  stage: PipelineConfig['stages'][number],
  runDir: string,
  startModel: string,
): { sft?: SftConfig; train?: ReturnType<typeof validateTrainConfig> } {
  const c = structuredClone(stage.config) as Record<string, unknown>;
  const model = { ...(c.model as Record<string, unknown> | undefined) };
  if (model.path === undefined) model.path = startModel;
  const label = `stage '${stage.name}'`;
  // both kinds write to <out_dir>/<name>/: the pipeline's run folder and the stage's name
  const set = ['name', 'out_dir', 'output_dir'].filter((k) => c[k] !== undefined);
  if (set.length)
    throw new GrpoError(
      'config',
      `${label}: ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set by the pipeline (${path.join(runDir, stage.name)}); remove ${set.length > 1 ? 'them' : 'it'}`,
    );
  // a stage not recorded finished is rerun over what an interrupted attempt left (an RL stage resumes first)
  const identity = { name: stage.name, out_dir: runDir, overwrite: true };
  if (stage.kind === 'sft')
    return { sft: parseSftConfig({ ...c, model, ...identity, progress: c.progress ?? false }, label) };
  return { train: validateTrainConfig({ ...c, model, ...identity }, label) };
}

export async function runPipeline(
  config: PipelineConfig,
  opts: { tasks?: EmbeddedTasks; log?: (line: string) => void } = {},
): Promise<StageSummary[]> {
  const log = opts.log ?? console.log;
  const runDir = path.join(config.out_dir, config.name);
  const summaries: StageSummary[] = [];
  let model = config.model;
  for (const stage of config.stages) {
    const folder = path.join(runDir, stage.name);
    const donePath = path.join(folder, DONE_FILE);
    if (existsSync(donePath)) {
      const done = JSON.parse(readFileSync(donePath, 'utf8')) as StageSummary;
      log(`stage ${stage.name}: done earlier, skipped`);
      summaries.push({ ...done, skipped: true });
      model = done.model;
      continue;
    }
    const c = stageConfig(stage, runDir, model);
    const stageModel = c.sft?.model ?? c.train!.model;
    if (stageModel.lora && stageModel.path === null)
      throw new GrpoError(
        'config',
        `stage '${stage.name}': a LoRA stage needs a starting model to merge its adapter into; set model.path or drop model.lora`,
      );
    log(`stage ${stage.name} (${stage.kind}) from ${model}`);
    let summary: StageSummary;
    if (c.sft) {
      const r = await runSft(c.sft, log);
      summary = {
        stage: stage.name,
        kind: 'sft',
        steps: r.train.steps,
        accuracyBefore: r.before?.accuracy ?? null,
        accuracyAfter: r.after?.accuracy ?? null,
        model: r.modelDir,
        skipped: false,
      };
    } else {
      // an RL stage interrupted earlier continues from its checkpoint
      const checkpoint = path.join(folder, 'checkpoint');
      const resume = existsSync(path.join(checkpoint, 'state.json')) ? checkpoint : undefined;
      if (resume) log(`stage ${stage.name}: resuming from ${resume}`);
      const r = await train(c.train!, { tasks: opts.tasks, resume });
      summary = {
        stage: stage.name,
        kind: 'train',
        steps: r.steps,
        accuracyBefore: r.accuracyBefore,
        accuracyAfter: r.accuracyAfter,
        model: path.join(r.runDir, 'final'),
        skipped: false,
      };
    }
    if (stageModel.lora) {
      // the next stage trains a full model: the adapter merged into this stage's base, in f32 so the merge is exact;
      // writeHfModel builds the folder under a staging name, so a crash leaves no half-merged model
      const merged = path.join(folder, 'merged');
      runMerge(
        {
          model: resolveModelPath(stageModel.path!),
          adapter: summary.model,
          out: merged,
          dtype: 'f32',
          tokenizer: stageModel.tokenizer ?? undefined,
          threads: stageModel.threads ?? undefined,
        },
        log,
      );
      summary = { ...summary, adapter: summary.model, model: merged };
    }
    writeFileAtomic(donePath, JSON.stringify(summary, null, 2) + '\n');
    summaries.push(summary);
    model = summary.model;
  }
  const table = summaryTable(summaries);
  writeFileSync(path.join(runDir, 'summary.md'), table + '\n');
  log(table);
  return summaries;
}

/** One Markdown row per stage: steps, held-out accuracy before and after, the model it wrote. */
export function summaryTable(rows: readonly StageSummary[]): string {
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  return [
    '| stage | kind | steps | accuracy before | accuracy after | model |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.stage}${r.skipped ? ' (earlier run)' : ''} | ${r.kind} | ${r.steps} | ${f(r.accuracyBefore)} | ${f(r.accuracyAfter)} | ${r.model} |`,
    ),
  ].join('\n');
}
