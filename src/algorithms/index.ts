// The algorithm core: every method's math as pure functions on plain arrays (DESIGN.md, "losses are pure").
export type { Ragged, LossResult } from './ragged.ts';
export { broadcastToTokens, multiplyRagged, sumLosses, selectMasked, scatterMasked } from './ragged.ts';
export type { StdKind } from './stats.ts';
export type { OutcomeEstimator, GroupAdvantageOptions } from './advantages.ts';
export {
  groupAdvantages,
  outcomeTokenRewards,
  reinforceBaselineReturnsToGo,
  reinforcePlusPlusAdvantages,
} from './advantages.ts';
export type { GdpoOptions } from './gdpo.ts';
export { gdpoAdvantages } from './gdpo.ts';
export type { GaeOptions, GaeBatchOptions } from './gae.ts';
export { gae, gaeBatch } from './gae.ts';
export type { AggregationMode, AggregationNormalizer, AggregationOptions } from './aggregation.ts';
export {
  aggregations,
  aggregationNormalizer,
  aggregationWeights,
  aggregateLoss,
  aggregateWithGradient,
  isAggregationMode,
} from './aggregation.ts';
export type { KlKind, KlLossInput, KlRewardOptions } from './kl.ts';
export {
  klEstimators,
  klEstimate,
  klGradient,
  klLoss,
  klPenalizedTokenRewards,
  klPenalizedSequenceRewards,
} from './kl.ts';
export type { ImportanceLevel, PpoClipInput } from './policy-loss.ts';
export { ppoClipLoss, clippedSurrogate } from './policy-loss.ts';
export type { DiscoInput } from './disco.ts';
export { discoLoss } from './disco.ts';
export type { GvpoInput } from './gvpo.ts';
export { gvpoLoss } from './gvpo.ts';
export type { ValueLossInput } from './value-loss.ts';
export { valueLoss } from './value-loss.ts';
export type { RolloutCorrectionOptions } from './importance-correction.ts';
export { rolloutCorrectionWeights, offPolicySequenceMask } from './importance-correction.ts';
export type { DynamicSamplingOptions } from './filters.ts';
export { dynamicSamplingKeep, keptIndices, overlongFilterMask, softOverlongPunishment } from './filters.ts';
export type { GfpoMetric, GfpoSelectInput, GfpoAdaptiveOptions, GfpoAdvantageInput } from './gfpo.ts';
export { gfpoMetrics, gfpoSelect, gfpoAdaptiveK, gfpoAdvantages } from './gfpo.ts';
export { hicraAdvantages, planningTokenMask, planningTokenMasks } from './hicra.ts';
export type {
  AdvantageEstimator,
  AdvantageInput,
  AdvantageOutput,
  CriticSettings,
  PolicyLoss,
  PolicyLossBatch,
  OptionsSchema,
} from './registry.ts';
export {
  AlgorithmKeyError,
  Registry,
  advantageEstimators,
  policyLosses,
  registerAdvantageEstimator,
  registerPolicyLoss,
  methodOptions,
} from './registry.ts';
import './methods/index.ts';
