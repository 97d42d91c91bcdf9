/** What every training-free run opens first: its folder and log, task splits, metric, and task model. */
import { resolve } from 'node:path';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { chatModelFromConfig, loadTaskSplits, type LoadedSplits, type ModelEndpointConfig, type TaskConfig } from './config.ts';
import { metricByName, type TaskMetric } from './metrics.ts';
import { RunLog } from './run-log.ts';

export interface RunSetupOverrides {
  taskModel?: ChatModel;
  metric?: TaskMetric;
  splits?: LoadedSplits;
  baseDir?: string;
  quiet?: boolean;
}

export async function openTaskRun(config: { out_dir: string; name: string; task: TaskConfig; task_model: ModelEndpointConfig }, overrides: RunSetupOverrides) {
  const baseDir = overrides.baseDir ?? process.cwd();
  const outDir = resolve(baseDir, config.out_dir, config.name);
  return {
    baseDir,
    outDir,
    log: new RunLog(outDir, { quiet: overrides.quiet }),
    splits: overrides.splits ?? (await loadTaskSplits(config.task, baseDir)),
    metric: overrides.metric ?? metricByName(config.task.metric),
    taskModel: overrides.taskModel ?? (await chatModelFromConfig(config.task_model, baseDir)),
  };
}

/** A second model (critic, reflection): the override, else its own endpoint, else the task model. */
export async function secondModel(override: ChatModel | undefined, endpoint: ModelEndpointConfig | null | undefined, baseDir: string, taskModel: ChatModel): Promise<ChatModel> {
  return override ?? (endpoint ? await chatModelFromConfig(endpoint, baseDir) : taskModel);
}
