/**
 * Training-Free GRPO, the whole run (youtu-agent: utu/practice/training_free_grpo.py, `practice`):
 * evaluate the starting library on the held-out split; for each epoch, shuffle the training questions and,
 * batch by batch, roll out groups with the library in the prompt, update the library from the groups, save it;
 * finally evaluate the learned library. Model weights never change.
 */
import { join, resolve } from 'node:path';
import { GrpoError } from '../../errors.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { Rng } from '../../util/rng.ts';
import { shuffled } from '../../data/random.ts';
import { redactSecrets, type LoadedSplits } from '../common/config.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { TaskMetric } from '../common/metrics.ts';
import { fmt } from '../common/run-log.ts';
import { openTaskRun, secondModel } from '../common/run-setup.ts';
import { parseTfGrpoConfig, type TfGrpoConfig, type TfGrpoConfigInput } from './config.ts';
import { ExperienceLibrary } from './experience-library.ts';
import { updateExperienceLibrary, type UpdateStats } from './experience-updater.ts';
import { evaluateSplit, isMixedGroup, rolloutGroups, type SplitScore, type TaskPrompt } from './rollout.ts';
import { mean, std } from '../../algorithms/stats.ts';

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

export interface TfGrpoStepRecord {
  step: number;
  epoch: number;
  batch: number;
  reward: number;
  reward_std: number;
  frac_reward_zero_std: number;
  frac_mixed_groups: number;
  library_size: number;
  seconds: number;
  update: UpdateStats;
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
  const prompt: TaskPrompt = { systemPrompt: config.system_prompt, userTemplate: config.user_template };
  const maxTokens = config.task_model.max_tokens ?? undefined;
  const evalSampling = {
    n: config.eval_n,
    temperature: config.eval_temperature,
    maxTokens,
    seed: config.send_seed ? config.seed : undefined,
  };

  let library = config.initial_library
    ? ExperienceLibrary.load(resolve(baseDir, config.initial_library))
    : new ExperienceLibrary();
  log.line(
    `tfgrpo: task model ${taskModel.name}, critic ${criticModel.name}; ${splits.train.length} training questions, group size ${config.grpo_n}, out ${outDir}`,
  );

  const heldOut: TaskExample[] | null = splits.test;
  let before: SplitScore | null = null;
  if (heldOut && config.eval_before) {
    before = await evaluateSplit(taskModel, heldOut, library.size > 0 ? library : null, prompt, evalSampling, metric);
    log.line(
      `held-out before: mean ${fmt(before.mean)}  pass@${config.eval_n} ${fmt(before.passAtN)}  (${before.examples} questions)`,
    );
    log.metrics({
      event: 'eval',
      phase: 'before',
      accuracy: before.mean,
      pass_at_n: before.passAtN,
      examples: before.examples,
    });
  }

  let batchSize = config.batch_size;
  if (splits.train.length < batchSize) {
    log.warn(
      `batch_size ${batchSize} exceeds the ${splits.train.length} training questions; using one batch of all of them per epoch`,
    );
    batchSize = splits.train.length;
  }
  // youtu-agent drops the last partial batch of an epoch; so do we (said once, not per epoch)
  const batchesPerEpoch = Math.floor(splits.train.length / batchSize);
  const dropped = splits.train.length - batchesPerEpoch * batchSize;
  if (dropped > 0)
    log.warn(
      `${dropped} training question(s) per epoch do not fill a batch of ${batchSize} and are left out of that epoch`,
    );

  const rng = new Rng(config.seed);
  const steps: TfGrpoStepRecord[] = [];
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = config.shuffle ? shuffled(splits.train, rng) : splits.train.slice();
    for (let b = 0; b < batchesPerEpoch; b++) {
      const step = epoch * batchesPerEpoch + b;
      const started = Date.now();
      const batch = order.slice(b * batchSize, (b + 1) * batchSize);
      const groups = await rolloutGroups(
        taskModel,
        batch,
        library,
        prompt,
        {
          n: config.grpo_n,
          temperature: config.rollout_temperature,
          maxTokens,
          seed: config.send_seed ? config.seed + 1_000_003 * (step + 1) : undefined,
        },
        metric,
      );
      const update = await updateExperienceLibrary(library, groups, {
        critic: criticModel,
        context: { agentObjective: config.agent_objective, learningObjective: config.learning_objective },
        temperature: config.critic_temperature,
        maxTokens: (config.critic_model ?? config.task_model).max_tokens ?? undefined,
        lessonsPerGroup: config.num_experiences_per_query,
        givenGroundTruth: config.given_ground_truth,
        batchUpdateAttempts: config.batch_update_attempts,
        warn: (m) => log.warn(`step ${step}: ${m}`),
      });
      library = update.library;
      library.save(join(outDir, `library_step${step}.json`));
      library.save(join(outDir, 'library.json'));

      const scores = groups.flatMap((g) => g.responses.map((r) => r.score));
      const record: TfGrpoStepRecord = {
        step,
        epoch,
        batch: b,
        reward: mean(scores, NaN),
        // population std: the spread within this batch, not an estimate of a larger population
        reward_std: std(scores, 'population', NaN),
        frac_reward_zero_std:
          groups.filter(
            (g) =>
              std(
                g.responses.map((r) => r.score),
                'population',
                NaN,
              ) === 0,
          ).length / groups.length,
        frac_mixed_groups: groups.filter((g) => isMixedGroup(g.responses.map((r) => r.score))).length / groups.length,
        library_size: library.size,
        seconds: (Date.now() - started) / 1000,
        update: update.stats,
      };
      steps.push(record);
      log.metrics({ event: 'step', ...record });
      const s = update.stats;
      log.line(
        `step ${step} (epoch ${epoch}, batch ${b}) | reward ${fmt(record.reward)} ± ${fmt(record.reward_std)} | mixed groups ${s.learnedGroups}/${s.groups}` +
          ` | ops +${s.added} ~${s.updated} -${s.deleted} | library ${library.size} | parse failures ${s.parseFailures} | ${record.seconds.toFixed(1)}s`,
      );
    }
  }
  if (steps.length === 0)
    throw new GrpoError(
      'config',
      `no training steps ran: ${splits.train.length} questions, batch_size ${config.batch_size}, epochs ${config.epochs}`,
    );

  let after: SplitScore | null = null;
  if (heldOut && config.eval_after) {
    after = await evaluateSplit(taskModel, heldOut, library.size > 0 ? library : null, prompt, evalSampling, metric);
    log.line(
      `held-out after: mean ${fmt(after.mean)}  pass@${config.eval_n} ${fmt(after.passAtN)}  (before ${fmt(before?.mean)})`,
    );
    log.metrics({
      event: 'eval',
      phase: 'after',
      accuracy: after.mean,
      pass_at_n: after.passAtN,
      examples: after.examples,
    });
  }

  library.save(join(outDir, 'library.json'));
  writeFileAtomic(
    join(outDir, 'result.json'),
    `${JSON.stringify({ method: 'tfgrpo', task_model: taskModel.name, critic_model: criticModel.name, steps: steps.length, library: library.toRecord(), heldout: { before, after }, config: redactSecrets(config) }, null, 2)}\n`,
  );
  return { library, before, after, steps, outDir };
}
