// Public API of the reward library (re-exported from src/index.ts).
export type { Sample, RewardFn, GroupRewardFn, RewardSpec } from './types.ts';
export { completionTokenCount } from './types.ts';
export { extractAnswer, lastBoxed, lastNumber, type ExtractOptions } from './math/extract.ts';
export { answersEquivalent, type EquivalenceOptions } from './math/equivalence.ts';
export { gradeMath, goldAnswer, mathReward, type GradeOptions, type MathRewardOptions } from './math/grade.ts';
export { normalizeAnswer } from './math/normalize.ts';
export { shutdownSymbolicWorker } from './math/symbolic.ts';
export {
  countdownReward,
  scoreCountdown,
  evaluateCountdownEquation,
  extractCountdownAnswer,
  type CountdownOptions,
} from './countdown.ts';
export { formatReward, hasThinkAnswerFormat, type FormatOptions } from './format.ts';
export { languageConsistencyReward, targetLanguageShare, chainOfThought, type LanguageOptions } from './language.ts';
export {
  overlongReward,
  kimiLengthPenalties,
  kimiLengthReward,
  type OverlongOptions,
  type KimiLengthOptions,
} from './length.ts';
export { extractCode, codeReward, runCodeTests, type CodeLanguage, type CodeRewardOptions } from './code/reward.ts';
export {
  runPythonAssertTests,
  runPythonIoTests,
  pythonIsolation,
  type PythonLimits,
  type IoTestCase,
  type CodeRunResult,
  type PythonIsolation,
} from './code/python.ts';
export { runJavaScriptTests, shutdownJavaScriptSandbox, type JavaScriptLimits } from './code/javascript.ts';
export {
  judgeReward,
  createJudgeClient,
  defaultJudgeMessages,
  parseCorrectIncorrect,
  type JudgeOptions,
  type JudgeClient,
  type JudgeMessage,
} from './judge.ts';
export {
  combineRewards,
  rewardMetrics,
  validateRewardSpecs,
  type CombinedRewards,
  type CombineOptions,
  type RewardFailure,
} from './combine.ts';
export {
  rewardTypes,
  registerReward,
  buildRewards,
  rewardOptions,
  correctnessReward,
  type RewardConfigEntry,
  type RewardDefinition,
} from './registry.ts';
