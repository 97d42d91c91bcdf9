/** grpo-ts public API. */
export { GrpoError, type GrpoErrorCode } from './errors.ts';
export { Backend, defaultThreadCount } from './engine/backend.ts';
export { AdamW, type AdamWOptions, type StepOptions, type StepResult } from './engine/optimizer.ts';
export { learningRateAt, type LrSchedule, type ScheduleKind } from './engine/schedule.ts';
export { type LlamaConfig, validateConfig, parameterCount } from './model/config.ts';
export { type HostTensor, type WeightMap, hostTensor } from './model/host-tensor.ts';
export {
  LlamaModel,
  type ModelOptions,
  type ForwardOptions,
  type ForwardPass,
  type Coefficients,
} from './model/llama-model.ts';
export { Rng } from './util/rng.ts';
export * from './algorithms/index.ts';
export * from './model/io/index.ts';
export * from './model/tokenizer/index.ts';
export * from './rewards/index.ts';
export * from './data/index.ts';
export * from './trainingfree/index.ts';
export { OpenAIClient } from './rollout/openai-client.ts';
export type { ChatModel, GenerationOptions, GenerationResult, GenerationChoice } from './rollout/chat-model.ts';
export * from './serve/index.ts';
export * from './data/synthetic/index.ts';
export { EMBEDDED_MODEL_DIR, resolveModelPath } from './data/synthetic/embedded-model.ts';
export { createCharTokenizer } from './model/tokenizer/char-tokenizer.ts';
export { generate, type GenerateOptions } from './rollout/generate.ts';
export type { Completion, EpisodeStats } from './rollout/completion.ts';
export { sampleToken, type SamplingParams } from './rollout/sampling.ts';
export { openModel, type OpenedModel } from './model/open-model.ts';
export { train, type TrainOptions, type TrainResult } from './trainer/trainer.ts';
// configs: one module (src/config/) shared by every command; each command's schema and its loader
export {
  defineConfig,
  parseConfig,
  parseOverrides,
  readConfigFile,
  describeConfig,
  loraSectionSchema,
  modelSectionFields,
  optimizerSectionSchema,
  runSectionFields,
  seedField,
  overwriteField,
  type ConfigDefinition,
  type DeprecatedKey,
  type LoraSection,
  type OptimizerSection,
} from './config/index.ts';
export { trainConfigSchema, type TrainConfig } from './trainer/config/schema.ts';
export { trainConfig, loadTrainConfig, validateTrainConfig } from './trainer/config/load.ts';
export {
  sftConfig,
  sftConfigSchema,
  loadSftConfig,
  parseSftConfig,
  sftConfigReference,
  SFT_DEPRECATED_KEYS,
  type SftConfig,
  type SftConfigInput,
} from './sft/config.ts';
export { pipelineConfig, pipelineConfigSchema, loadPipelineConfig, type PipelineConfig } from './pipeline/config.ts';
export { runPipeline, summaryTable, type StageSummary, type PipelineOptions } from './pipeline/pipeline.ts';
export { runMerge, type MergeOptions } from './pipeline/merge-adapter.ts';
export {
  methodPresets,
  registerPreset,
  resolveAlgorithm,
  type MethodPreset,
  type ResolvedAlgorithm,
} from './trainer/config/presets.ts';
export {
  batchTransforms,
  registerBatchTransform,
  type BatchTransform,
  type TransformRun,
} from './trainer/transforms/index.ts';
export { resolveRunPlan, type RunPlan, type Critic } from './trainer/run-plan.ts';
export type { Rollout, RolloutBatch } from './trainer/rollouts.ts';
export { trainSft, saveSftModel, type SftOptions, type SftResult, type SftStepLog } from './sft/train.ts';
export { runSft, type SftRunResult } from './sft/run.ts';
export { rejectionSample } from './sft/rejection-sampling.ts';
export { evaluateModel, type EvalReport } from './trainer/evaluate.ts';
export { TensorBoardWriter } from './trainer/tensorboard.ts';
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard/server.ts';
export { runArena, type ArenaOptions, type ArenaRuns } from './arena/arena.ts';
export { writeArenaReport, arenaReport, markdownTable, type ArenaReport } from './arena/report.ts';
export { functionTool, type Tool, type ToolCall } from './rollout/tools/tool.ts';
export { calculatorTool } from './rollout/tools/calculator.ts';
export { pythonTool, type PythonToolOptions } from './rollout/tools/python-tool.ts';
export { hermesFormat, plainFormat, type ToolFormat } from './rollout/tools/tool-format.ts';
export {
  toolEnvironment,
  type Environment,
  type EnvironmentFactory,
  type EnvironmentReply,
} from './rollout/tools/environment.ts';
export { embeddedEpisodes } from './rollout/embedded-episodes.ts';
export { remoteEpisodes } from './rollout/remote-episodes.ts';
export type { AgentLoop } from './rollout/agent-loop.ts';
