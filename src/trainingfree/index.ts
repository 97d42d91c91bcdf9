/** Training-free methods: Training-Free GRPO (experience libraries) and GEPA (reflective prompt evolution). */
export { runTfGrpo, type TfGrpoOverrides, type TfGrpoResult } from './tfgrpo/run.ts';
export type { TfGrpoStepRecord } from './tfgrpo/step.ts';
export {
  tfgrpoConfig,
  tfgrpoConfigSchema,
  parseTfGrpoConfig,
  type TfGrpoConfig,
  type TfGrpoConfigInput,
} from './tfgrpo/config.ts';
export { tfgrpoCommand, tfgrpoConfigReference } from './tfgrpo/cli.ts';
export { ExperienceLibrary, type ExperienceOperation, type ApplyReport } from './tfgrpo/experience-library.ts';
export {
  updateExperienceLibrary,
  type UpdaterOptions,
  type UpdateResult,
  type UpdateStats,
} from './tfgrpo/experience-updater.ts';
export { answerWithExperiences, loadExperienceLibrary, systemPromptWithExperiences } from './tfgrpo/inference.ts';
export {
  evaluateSplit,
  rolloutGroups,
  isMixedGroup,
  type TaskPrompt,
  type RolloutGroup,
  type SplitScore,
} from './tfgrpo/rollout.ts';

export { runGepa, type GepaOverrides, type GepaResult, type HeldOutScores } from './gepa/run.ts';
export { gepaConfig, gepaConfigSchema, parseGepaConfig, type GepaConfig, type GepaConfigInput } from './gepa/config.ts';
export { gepaCommand, gepaConfigReference } from './gepa/cli.ts';
export { runGepaSearch } from './gepa/search.ts';
export type { GepaSearchOptions, GepaSearchDeps, AcceptanceCriterion } from './gepa/search-run.ts';
export { isAccepted } from './gepa/reflective-mutation.ts';
export { ChatProgramAdapter, type GepaAdapter, type EvaluationBatch, type ExecutionTrace } from './gepa/adapter.ts';
export {
  selectParetoCandidate,
  removeDominatedPrograms,
  selectCandidate,
  type Program,
  type InstanceFront,
} from './gepa/pareto.ts';
export { proposeMerge, type MergeProposal } from './gepa/merge.ts';
export { defaultReflectionTemplate, proposeComponentTexts } from './gepa/instruction-proposal.ts';

export { loadExamples, type TaskExample, type DatasetSpec } from './common/dataset.ts';
export { taskMetrics, metricByName, type TaskMetric, type MetricResult } from './common/metrics.ts';
export {
  chatModelFromConfig,
  modelEndpointSchema,
  taskSchema,
  type ModelEndpointConfig,
  type TaskConfig,
} from './common/config.ts';
