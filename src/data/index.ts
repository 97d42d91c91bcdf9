// Public API of the data layer (re-exported from src/index.ts).
export { readRecords, formatOf, plainValues, type DataRecord, type DataFormat, type ReadOptions } from './load.ts';
export { getPath, mapFields, mapRecord, type FieldMap, type FieldSource } from './fields.ts';
export {
  PRESETS,
  toExamples,
  loadDataset,
  detectPreset,
  presetExamples,
  gsm8kFinalAnswer,
  countdownQuestion,
  type Example,
  type PresetName,
  type LoadDatasetOptions,
  type MappingOptions,
  type SkippedRow,
} from './presets.ts';
export {
  R1_ZERO_TEMPLATE,
  BOXED_INSTRUCTION,
  r1ZeroTemplate,
  chatTemplate,
  promptTemplate,
  encodePrompt,
  type PromptTemplate,
  type TemplateKind,
  type PromptTemplateOptions,
  type R1ZeroOptions,
  type ApplyChatTemplate,
  type ChatPromptOptions,
} from './templates.ts';
export {
  readExamples,
  type ExampleSource,
  type ExampleColumns,
  type EmbeddedTasks,
} from './examples.ts';
export {
  dedupe,
  promptKey,
  filterByLength,
  heldOutSplit,
  type LengthFilterOptions,
  type SplitOptions,
} from './filters.ts';
export {
  UniformSampler,
  CurriculumSampler,
  PrioritizedSampler,
  type PromptSampler,
  type PromptSamplerState,
  type CurriculumOptions,
  type PrioritizedOptions,
} from './samplers.ts';
export {
  filterByPassRate,
  prefilterBySolveRate,
  type PassRateFilterOptions,
  type PrefilterOptions,
} from './prefilter.ts';
