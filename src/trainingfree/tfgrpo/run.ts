/**
 * Training-Free GRPO, the whole run (youtu-agent: utu/practice/training_free_grpo.py, `practice`):
 * evaluate the starting library on the held-out split; for each epoch, shuffle the training questions and,
 * batch by batch, roll out groups with the library in the prompt, update the library from the groups, save it
 * (step.ts); finally evaluate the learned library. Model weights never change.
 */
import { join, resolve } from 'node:path';
import { shuffled } from '../../data/random.ts';
import { GrpoError } from '../../errors.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { Rng } from '../../util/rng.ts';
import { type LoadedSplits, redactSecrets } from '../common/config.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { TaskMetric } from '../common/metrics.ts';
import { fmt, type RunLog } from '../common/run-log.ts';
import { openTaskRun, secondModel } from '../common/run-setup.ts';
import { parseTfGrpoConfig, type TfGrpoConfig, type TfGrpoConfigInput } from './config.ts';
import { ExperienceLibrary } from './experience-library.ts';
import { evaluateSplit, type SplitScore } from './rollout.ts';
import { runStep, type TfGrpoRunContext, type TfGrpoStepRecord } from './step.ts';

/** What a library user (or a test) can supply instead of what the config names. */
export interface TfGrpoOverrides {
  taskModel?: ChatModel;
  criticModel?: ChatModel;
  metric?: TaskMetric;
  splits?: LoadedSplits;
  /** folder that relative paths in the config resolve against (default: cwd) */
  baseDir?: string;
  /** no terminal output (files are still written) */
  quiet?: boolean;
}

export interface TfGrpoResult {
  library: ExperienceLibrary;
  before: SplitScore | null;
  after: SplitScore | null;
  steps: TfGrpoStepRecord[];
  outDir: string;
}

export async function runTfGrpo(
  configInput: TfGrpoConfigInput | TfGrpoConfig,
  overrides: TfGrpoOverrides = {},
): Promise<TfGrpoResult> {
  const config = parseTfGrpoConfig(configInput);
  const { baseDir, outDir, log, splits, metric, taskModel } = await openTaskRun(config, overrides, [
    'library.json',
    'metrics.jsonl',
    'result.json',
  ]);
  const criticModel = await secondModel(overrides.criticModel, config.critic_model, baseDir, taskModel);
  const prompt = { systemPrompt: config.system_prompt, userTemplate: config.user_template };
  const run: TfGrpoRunContext = { config, taskModel, criticModel, metric, prompt, log, outDir };

  let library = config.initial_library
    ? ExperienceLibrary.load(resolve(baseDir, config.initial_library))
    : new ExperienceLibrary();
  log.line(
    `tfgrpo: task model ${taskModel.name}, critic ${criticModel.name}; ${splits.train.length} training questions, group size ${config.grpo_n}, out ${outDir}`,
  );

  const heldOut: TaskExample[] | null = splits.test;
  const before =
    heldOut && config.eval_before
      ? await evaluateHeldOut(run, heldOut, library, 'before', (score) => `${score.examples} questions`)
      : null;

  const { batchSize, batchesPerEpoch } = epochBatches(config, splits.train.length, log);
  const rng = new Rng(config.seed);
  const steps: TfGrpoStepRecord[] = [];
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = config.shuffle ? shuffled(splits.train, rng) : splits.train.slice();
    for (let b = 0; b < batchesPerEpoch; b++) {
      const questions = order.slice(b * batchSize, (b + 1) * batchSize);
      const done = await runStep(run, library, questions, { step: epoch * batchesPerEpoch + b, epoch, batch: b });
      library = done.library;
      steps.push(done.record);
    }
  }
  if (steps.length === 0)
    throw new GrpoError(
      'config',
      `no training steps ran: ${splits.train.length} questions, batch_size ${config.batch_size}, epochs ${config.epochs}`,
    );

  const after =
    heldOut && config.eval_after
      ? await evaluateHeldOut(run, heldOut, library, 'after', () => `before ${fmt(before?.mean)}`)
      : null;

  library.save(join(outDir, 'library.json'));
  writeFileAtomic(
    join(outDir, 'result.json'),
    `${JSON.stringify({ method: 'tfgrpo', task_model: taskModel.name, critic_model: criticModel.name, steps: steps.length, library: library.toRecord(), heldout: { before, after }, config: redactSecrets(config) }, null, 2)}\n`,
  );
  return { library, before, after, steps, outDir };
}

/** The batch size an epoch uses and how many batches it has, with a warning for what does not fit. */
function epochBatches(
  config: TfGrpoConfig,
  questions: number,
  log: RunLog,
): { batchSize: number; batchesPerEpoch: number } {
  let batchSize = config.batch_size;
  if (questions < batchSize) {
    log.warn(
      `batch_size ${batchSize} exceeds the ${questions} training questions; using one batch of all of them per epoch`,
    );
    batchSize = questions;
  }
  // youtu-agent drops the last partial batch of an epoch; so do we (said once, not per epoch)
  const batchesPerEpoch = Math.floor(questions / batchSize);
  const dropped = questions - batchesPerEpoch * batchSize;
  if (dropped > 0)
    log.warn(
      `${dropped} training question(s) per epoch do not fill a batch of ${batchSize} and are left out of that epoch`,
    );
  return { batchSize, batchesPerEpoch };
}

/** Scores the library (none while it is empty) on the held-out split; `note` ends the progress line. */
async function evaluateHeldOut(
  run: TfGrpoRunContext,
  heldOut: readonly TaskExample[],
  library: ExperienceLibrary,
  phase: 'before' | 'after',
  note: (score: SplitScore) => string,
): Promise<SplitScore> {
  const { config, log } = run;
  const sampling = {
    n: config.eval_n,
    temperature: config.eval_temperature,
    maxTokens: config.task_model.max_tokens ?? undefined,
    seed: config.send_seed ? config.seed : undefined,
  };
  const score = await evaluateSplit(
    run.taskModel,
    heldOut,
    library.size > 0 ? library : null,
    run.prompt,
    sampling,
    run.metric,
  );
  log.line(`held-out ${phase}: mean ${fmt(score.mean)}  pass@${config.eval_n} ${fmt(score.passAtN)}  (${note(score)})`);
  log.metrics({ event: 'eval', phase, accuracy: score.mean, pass_at_n: score.passAtN, examples: score.examples });
  return score;
}
