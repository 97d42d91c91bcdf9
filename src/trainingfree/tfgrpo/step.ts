/**
 * One Training-Free GRPO step (youtu-agent: utu/practice/training_free_grpo.py, one batch of `practice`): roll out
 * a group per question with the library in the prompt, update the library from the groups, save it, and record
 * the batch's rewards and the update's operations.
 */
import { join } from 'node:path';
import { mean, std } from '../../algorithms/stats.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { TaskMetric } from '../common/metrics.ts';
import { fmt, type RunLog } from '../common/run-log.ts';
import type { TfGrpoConfig } from './config.ts';
import type { ExperienceLibrary } from './experience-library.ts';
import { type UpdateStats, updateExperienceLibrary } from './experience-updater.ts';
import { isMixedGroup, type RolloutGroup, rolloutGroups, type TaskPrompt } from './rollout.ts';

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

/** What every step and held-out evaluation of a run reads. */
export interface TfGrpoRunContext {
  config: TfGrpoConfig;
  taskModel: ChatModel;
  criticModel: ChatModel;
  metric: TaskMetric;
  prompt: TaskPrompt;
  log: RunLog;
  outDir: string;
}

/** Where a step is in the run. */
export interface StepPosition {
  step: number;
  epoch: number;
  /** the batch's index in its epoch */
  batch: number;
}

/** One step over one batch of questions; returns the updated library (saved) and the step's record (logged). */
export async function runStep(
  run: TfGrpoRunContext,
  library: ExperienceLibrary,
  questions: readonly TaskExample[],
  at: StepPosition,
): Promise<{ library: ExperienceLibrary; record: TfGrpoStepRecord }> {
  const { config, log, outDir } = run;
  const started = Date.now();
  const groups = await rolloutGroups(
    run.taskModel,
    questions,
    library,
    run.prompt,
    {
      n: config.grpo_n,
      temperature: config.rollout_temperature,
      maxTokens: config.task_model.max_tokens ?? undefined,
      seed: config.send_seed ? config.seed + 1_000_003 * (at.step + 1) : undefined,
    },
    run.metric,
  );
  const update = await updateExperienceLibrary(library, groups, {
    critic: run.criticModel,
    context: { agentObjective: config.agent_objective, learningObjective: config.learning_objective },
    temperature: config.critic_temperature,
    maxTokens: (config.critic_model ?? config.task_model).max_tokens ?? undefined,
    lessonsPerGroup: config.num_experiences_per_query,
    givenGroundTruth: config.given_ground_truth,
    batchUpdateAttempts: config.batch_update_attempts,
    warn: (m) => log.warn(`step ${at.step}: ${m}`),
  });
  const updated = update.library;
  updated.save(join(outDir, `library_step${at.step}.json`));
  updated.save(join(outDir, 'library.json'));

  const record: TfGrpoStepRecord = {
    step: at.step,
    epoch: at.epoch,
    batch: at.batch,
    ...rewardStats(groups),
    library_size: updated.size,
    seconds: (Date.now() - started) / 1000,
    update: update.stats,
  };
  log.metrics({ event: 'step', ...record });
  const s = update.stats;
  log.line(
    `step ${at.step} (epoch ${at.epoch}, batch ${at.batch}) | reward ${fmt(record.reward)} ± ${fmt(record.reward_std)} | mixed groups ${s.learnedGroups}/${s.groups}` +
      ` | ops +${s.added} ~${s.updated} -${s.deleted} | library ${updated.size} | parse failures ${s.parseFailures} | ${record.seconds.toFixed(1)}s`,
  );
  return { library: updated, record };
}

/** The batch's mean reward and spread, and how many of its groups could teach anything. */
function rewardStats(groups: readonly RolloutGroup[]) {
  const scores = groups.flatMap((g) => g.responses.map((r) => r.score));
  const groupScores = groups.map((g) => g.responses.map((r) => r.score));
  return {
    reward: mean(scores, NaN),
    // population std: the spread within this batch, not an estimate of a larger population
    reward_std: std(scores, 'population', NaN),
    frac_reward_zero_std: groupScores.filter((g) => std(g, 'population', NaN) === 0).length / groups.length,
    frac_mixed_groups: groupScores.filter((g) => isMixedGroup(g)).length / groups.length,
  };
}
