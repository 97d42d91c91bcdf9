/** What every training-free run opens first: its folder and log, task splits, metric, and task model. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GrpoError } from '../../errors.ts';
import { claimRunFolder } from '../../trainer/run-folder.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import {
  chatModelFromConfig,
  loadTaskSplits,
  type LoadedSplits,
  type ModelEndpointConfig,
  type TaskConfig,
} from './config.ts';
import { metricByName, type TaskMetric } from './metrics.ts';
import { RunLog } from './run-log.ts';

export interface RunSetupOverrides {
  taskModel?: ChatModel;
  metric?: TaskMetric;
  splits?: LoadedSplits;
  baseDir?: string;
  quiet?: boolean;
}

/**
 * `outputs`: what the command writes into its run folder. A folder that holds them is an earlier run: it is
 * continued only when `continues` (a GEPA run with resume), replaced with `overwrite`, and otherwise refused, so a
 * rerun never mixes its metrics and library into another run's.
 */
export async function openTaskRun(
  config: { out_dir: string; name: string; overwrite: boolean; task: TaskConfig; task_model: ModelEndpointConfig },
  overrides: RunSetupOverrides,
  outputs: readonly string[],
  continues = false,
) {
  const baseDir = overrides.baseDir ?? process.cwd();
  const outDir = resolve(baseDir, config.out_dir, config.name);
  refuseOldLayout(resolve(baseDir, config.out_dir), outDir);
  if (!continues) claimRunFolder(outDir, { resume: false, overwrite: config.overwrite, outputs, resumable: false });
  return {
    baseDir,
    outDir,
    log: new RunLog(outDir, { quiet: overrides.quiet }),
    splits: overrides.splits ?? (await loadTaskSplits(config.task, baseDir)),
    metric: overrides.metric ?? metricByName(config.task.metric),
    taskModel: overrides.taskModel ?? (await chatModelFromConfig(config.task_model, baseDir)),
  };
}

/** Files a tfgrpo or gepa run leaves in its folder. */
const RUN_FILES = ['metrics.jsonl', 'result.json', 'library.json', 'gepa_state.json'];

/**
 * Before the config module was shared, out_dir was the run folder itself; it is now the parent of <name>/. A run
 * left in the old place would be silently started afresh (and a GEPA run not resumed): say where it is instead.
 */
function refuseOldLayout(parent: string, outDir: string): void {
  const old = RUN_FILES.filter((f) => existsSync(join(parent, f)));
  if (old.length === 0 || existsSync(outDir)) return;
  throw new GrpoError(
    'config',
    `out_dir ${parent} holds an earlier run (${old.join(', ')}) in the layout before runs went to <out_dir>/<name>/; move its files into ${outDir} to continue it, or choose another out_dir`,
  );
}

/** A second model (critic, reflection): the override, else its own endpoint, else the task model. */
export async function secondModel(
  override: ChatModel | undefined,
  endpoint: ModelEndpointConfig | null | undefined,
  baseDir: string,
  taskModel: ChatModel,
): Promise<ChatModel> {
  return override ?? (endpoint ? await chatModelFromConfig(endpoint, baseDir) : taskModel);
}
