/**
 * GEPA, the whole run: wire the config's models, data and metric into the search (search.ts), then save the best
 * program and score the seed and the best program on the held-out split (gepa-ai/gepa: api.py `optimize`,
 * core/result.py GEPAResult).
 */
import { join } from 'node:path';
import { mean } from '../../algorithms/stats.ts';
import type { ChatModel } from '../../rollout/chat-model.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { redactSecrets, type LoadedSplits } from '../common/config.ts';
import type { TaskExample } from '../common/dataset.ts';
import type { TaskMetric } from '../common/metrics.ts';
import { fmt, type RunLog } from '../common/run-log.ts';
import { openTaskRun, secondModel } from '../common/run-setup.ts';
import { ChatProgramAdapter, type GepaAdapter } from './adapter.ts';
import { parseGepaConfig, type GepaConfig, type GepaConfigInput } from './config.ts';
import { proposeComponentTexts } from './instruction-proposal.ts';
import { bestProgram, type Program } from './pareto.ts';
import { runGepaSearch } from './search.ts';
import type { GepaSearchDeps, GepaSearchOptions } from './search-run.ts';
import { aggregateScores, type GepaState } from './state.ts';

export interface GepaOverrides {
  taskModel?: ChatModel;
  reflectionModel?: ChatModel;
  metric?: TaskMetric;
  splits?: LoadedSplits;
  /** run programs some other way than one chat call per example */
  adapter?: GepaAdapter;
  baseDir?: string;
  quiet?: boolean;
}

export interface HeldOutScores {
  seed: number;
  best: number;
  examples: number;
}

export interface GepaResult {
  bestProgram: Program;
  bestIndex: number;
  /** mean validation score of every program, by index */
  valScores: number[];
  totalMetricCalls: number;
  heldout: HeldOutScores | null;
  state: GepaState;
  outDir: string;
}

export async function runGepa(
  configInput: GepaConfigInput | GepaConfig,
  overrides: GepaOverrides = {},
): Promise<GepaResult> {
  const config = parseGepaConfig(configInput);
  const { baseDir, outDir, log, splits, metric, taskModel } = await openTaskRun(
    config,
    overrides,
    ['gepa_state.json', 'metrics.jsonl', 'best_program.json', 'result.json'],
    config.resume,
  );
  const reflectionModel = await secondModel(overrides.reflectionModel, config.reflection_model, baseDir, taskModel);
  const adapter = overrides.adapter ?? chatAdapter(config, taskModel, metric);
  const valset = splits.val ?? splits.train; // gepa: valset defaults to the trainset
  log.line(
    `gepa: task model ${taskModel.name}, reflection ${reflectionModel.name}; train ${splits.train.length}, val ${valset.length}, budget ${config.max_metric_calls} metric calls, out ${outDir}`,
  );

  const state = await runGepaSearch(
    {
      adapter,
      propose: reflectionProposer(config, reflectionModel),
      trainset: splits.train,
      valset,
      seedProgram: config.program.components,
      log,
    },
    searchOptions(config, outDir),
  );

  const valScores = aggregateScores(state);
  const bestIndex = bestProgram(valScores);
  const best = state.programs[bestIndex];
  writeFileAtomic(join(outDir, 'best_program.json'), `${JSON.stringify(best, null, 2)}\n`);
  const heldout =
    splits.test && config.eval_test ? await scoreHeldOut(adapter, splits.test, state, bestIndex, log) : null;
  writeResult(outDir, config, { task: taskModel.name, reflection: reflectionModel.name }, state, heldout);
  log.line(
    `gepa done: best program ${bestIndex} (val ${fmt(valScores[bestIndex])}, seed ${fmt(valScores[0])}), ${state.programs.length} program(s), ${state.totalMetricCalls} metric calls; ${join(outDir, 'best_program.json')}`,
  );
  return { bestProgram: best, bestIndex, valScores, totalMetricCalls: state.totalMetricCalls, heldout, state, outDir };
}

/** result.json: the best program, every program with its lineage and scores, the budget spent, the config. */
function writeResult(
  outDir: string,
  config: GepaConfig,
  models: { task: string; reflection: string },
  state: GepaState,
  heldout: HeldOutScores | null,
): void {
  const valScores = aggregateScores(state);
  const bestIndex = bestProgram(valScores);
  const result = {
    method: 'gepa',
    task_model: models.task,
    reflection_model: models.reflection,
    best_index: bestIndex,
    best_program: state.programs[bestIndex],
    val_scores: valScores,
    programs: state.programs,
    parents: state.parents,
    discovered_at_metric_calls: state.discoveredAtMetricCalls,
    total_metric_calls: state.totalMetricCalls,
    iterations: state.iteration,
    heldout,
    config: redactSecrets(config),
  };
  writeFileAtomic(join(outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
}

/** Programs run as one chat call per example, with the config's templates. */
function chatAdapter(config: GepaConfig, taskModel: ChatModel, metric: TaskMetric): GepaAdapter {
  return new ChatProgramAdapter({
    model: taskModel,
    metric,
    systemTemplate: config.program.system_template,
    userTemplate: config.program.user_template,
    temperature: config.task_temperature,
    maxTokens: config.task_model.max_tokens ?? undefined,
  });
}

/** New component texts from the reflection model (instruction-proposal.ts; gepa: propose_new_texts). */
function reflectionProposer(config: GepaConfig, reflectionModel: ChatModel): GepaSearchDeps['propose'] {
  const proposer = {
    model: reflectionModel,
    template: config.reflection_prompt_template ?? undefined,
    temperature: config.reflection_temperature,
    maxTokens: (config.reflection_model ?? config.task_model).max_tokens ?? undefined,
  };
  return (program, dataset, components) => proposeComponentTexts(proposer, program, dataset, components);
}

/** The search's settings from the config; its state and stop file live in the run folder. */
function searchOptions(config: GepaConfig, outDir: string): GepaSearchOptions {
  return {
    maxMetricCalls: config.max_metric_calls,
    maxIterations: config.max_iterations,
    reflectionMinibatchSize: config.reflection_minibatch_size,
    candidateSelection: config.candidate_selection,
    epsilon: config.epsilon,
    moduleSelector: config.module_selector,
    acceptance: config.acceptance,
    skipPerfectScore: config.skip_perfect_score,
    perfectScore: config.perfect_score,
    useMerge: config.use_merge,
    maxMergeInvocations: config.max_merge_invocations,
    mergeSubsampleSize: config.merge_subsample_size,
    seed: config.seed,
    statePath: join(outDir, 'gepa_state.json'),
    resume: config.resume,
    stopFile: join(outDir, 'gepa.stop'),
  };
}

/** The seed and the best program's mean scores on the held-out split (one evaluation when the seed is best). */
async function scoreHeldOut(
  adapter: GepaAdapter,
  test: readonly TaskExample[],
  state: GepaState,
  bestIndex: number,
  log: RunLog,
): Promise<HeldOutScores> {
  const seedScore = mean((await adapter.evaluate(test, state.programs[0], false)).scores, NaN);
  const bestScore =
    bestIndex === 0 ? seedScore : mean((await adapter.evaluate(test, state.programs[bestIndex], false)).scores, NaN);
  log.line(`held-out: seed program ${fmt(seedScore)} → best program ${fmt(bestScore)} (${test.length} examples)`);
  log.metrics({ event: 'eval', phase: 'before', accuracy: seedScore, examples: test.length });
  log.metrics({ event: 'eval', phase: 'after', accuracy: bestScore, examples: test.length });
  return { seed: seedScore, best: bestScore, examples: test.length };
}
