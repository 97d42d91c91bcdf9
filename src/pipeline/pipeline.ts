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
import { GrpoError } from '../errors.ts';
import { train } from '../trainer/trainer.ts';
import type { EmbeddedTasks } from '../data/examples.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { runSft } from '../sft/run.ts';
import { runMerge } from './merge-adapter.ts';
import { stageConfig, type PipelineConfig, type PipelineStage, type StageConfig } from './config.ts';

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

export interface PipelineOptions {
  /** embedded tasks an RL stage's `embedded:<name>` data may name, besides (or replacing by name) the built-in ones */
  tasks?: EmbeddedTasks;
  /** the human-readable lines (default console.log) */
  log?: (line: string) => void;
}

/** Run the stages in order, each from the model the one before it wrote; a summary table ends the run. */
export async function runPipeline(config: PipelineConfig, opts: PipelineOptions = {}): Promise<StageSummary[]> {
  const log = opts.log ?? console.log;
  const runDir = path.join(config.out_dir, config.name);
  const summaries: StageSummary[] = [];
  let model = config.model;
  for (const stage of config.stages) {
    const donePath = path.join(runDir, stage.name, DONE_FILE);
    const summary = existsSync(donePath)
      ? finishedStage(stage, donePath, log)
      : await runStage(stage, runDir, model, { ...opts, log });
    summaries.push(summary);
    model = summary.model;
  }
  const table = summaryTable(summaries);
  writeFileSync(path.join(runDir, 'summary.md'), table + '\n');
  log(table);
  return summaries;
}

/** A stage an earlier invocation finished: its recorded summary. */
function finishedStage(stage: PipelineStage, donePath: string, log: (line: string) => void): StageSummary {
  const done = JSON.parse(readFileSync(donePath, 'utf8')) as StageSummary;
  log(`stage ${stage.name}: done earlier, skipped`);
  return { ...done, skipped: true };
}

/** One stage from `startModel`: trained, its LoRA adapter merged, and recorded as done. */
async function runStage(
  stage: PipelineStage,
  runDir: string,
  startModel: string,
  opts: PipelineOptions & { log: (line: string) => void },
): Promise<StageSummary> {
  const folder = path.join(runDir, stage.name);
  const c = stageConfig(stage, runDir, startModel);
  const stageModel = c.config.model;
  if (stageModel.lora && stageModel.path === null)
    throw new GrpoError(
      'config',
      `stage '${stage.name}': a LoRA stage needs a starting model to merge its adapter into; set model.path or drop model.lora`,
    );
  opts.log(`stage ${stage.name} (${stage.kind}) from ${startModel}`);
  const trained = await trainStage(stage.name, c, folder, opts);
  const summary = stageModel.lora ? mergeStageAdapter(trained, c, folder, opts.log) : trained;
  writeFileAtomic(path.join(folder, DONE_FILE), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The stage's SFT or RL run; an RL stage interrupted earlier continues from its checkpoint. */
async function trainStage(
  name: string,
  c: StageConfig,
  folder: string,
  opts: PipelineOptions & { log: (line: string) => void },
): Promise<StageSummary> {
  if (c.kind === 'sft') {
    const r = await runSft(c.config, opts.log);
    return {
      stage: name,
      kind: 'sft',
      steps: r.train.steps,
      accuracyBefore: r.before?.accuracy ?? null,
      accuracyAfter: r.after?.accuracy ?? null,
      model: r.modelDir,
      skipped: false,
    };
  }
  const checkpoint = path.join(folder, 'checkpoint');
  const resume = existsSync(path.join(checkpoint, 'state.json')) ? checkpoint : undefined;
  if (resume) opts.log(`stage ${name}: resuming from ${resume}`);
  const r = await train(c.config, { tasks: opts.tasks, resume });
  return {
    stage: name,
    kind: 'train',
    steps: r.steps,
    accuracyBefore: r.accuracyBefore,
    accuracyAfter: r.accuracyAfter,
    model: path.join(r.runDir, 'final'),
    skipped: false,
  };
}

/**
 * The next stage trains a full model: the adapter merged into this stage's base, in f32 so the merge is exact;
 * writeHfModel builds the folder under a staging name, so a crash leaves no half-merged model.
 */
function mergeStageAdapter(
  summary: StageSummary,
  c: StageConfig,
  folder: string,
  log: (line: string) => void,
): StageSummary {
  const m = c.config.model;
  const merged = path.join(folder, 'merged');
  runMerge(
    {
      model: resolveModelPath(m.path!),
      adapter: summary.model,
      out: merged,
      dtype: 'f32',
      tokenizer: m.tokenizer ?? undefined,
      threads: m.threads ?? undefined,
    },
    log,
  );
  return { ...summary, adapter: summary.model, model: merged };
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
