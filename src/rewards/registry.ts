/**
 * Reward registry: a run's config names its rewards by type, e.g.
 *   rewards: [{ type: math, weight: 1 }, { type: format, weight: 0.1 }, { type: overlong, options: {...} }]
 * Each type is one registered object with a zod schema of its options (an unknown or invalid option is one error
 * naming it); `registerReward` adds one from TypeScript (TRL's reward_funcs), and buildRewards turns the list into
 * RewardSpecs for combineRewards.
 */
import { z } from 'zod';
import type { RewardSpec, RewardFn, GroupRewardFn } from './types.ts';
import { mathReward, REQUIRE_STOP_MOVED } from './math/grade.ts';
import { countdownReward } from './countdown.ts';
import { formatReward } from './format.ts';
import { languageConsistencyReward } from './language.ts';
import { overlongReward, kimiLengthReward } from './length.ts';
import { codeReward } from './code/reward.ts';
import { judgeReward } from './judge.ts';
import { Registry } from '../algorithms/registry.ts';
import { GrpoError } from '../errors.ts';

export interface RewardDefinition<S extends z.ZodObject = z.ZodObject> {
  name: string;
  /** one line: what it scores and its source */
  description: string;
  options: S;
  /** a value ≥ 1 means a correct answer: accuracy, the samplers' pass rates and DAPO's filter read the first such reward */
  correctness?: boolean;
  build: (options: z.infer<S>) => { fn: RewardFn } | { groupFn: GroupRewardFn };
}

export const rewardTypes = new Registry<RewardDefinition>('reward type');

/** Adds a reward type that `rewards[].type` can name; returns it. */
export function registerReward<S extends z.ZodObject>(reward: RewardDefinition<S>): RewardDefinition<S> {
  rewardTypes.add(reward as unknown as RewardDefinition);
  return reward;
}

export interface RewardConfigEntry {
  /** A registered reward type. */
  type: string;
  /** Name in logs and for GDPO; default the type. */
  name?: string;
  /** Default 1. */
  weight?: number;
  options?: Record<string, unknown>;
}

/** The entry's options parsed by its type's schema; throws one line naming the bad key (`where`: rewards[i]). */
export function rewardOptions(entry: RewardConfigEntry, where: string): Record<string, unknown> {
  if (!rewardTypes.has(entry.type))
    throw new GrpoError(
      'config',
      `${where}.type '${entry.type}' is unknown; use one of ${rewardTypes.names().join(', ')} (or registerReward one)`,
    );
  const def = rewardTypes.get(entry.type);
  const r = def.options.strict().safeParse(entry.options ?? {});
  if (r.success) return r.data as Record<string, unknown>;
  const issue = r.error.issues[0];
  // an optional z.never() is a removed option, there only for the error that says where it went
  const known = Object.entries(def.options.shape)
    .filter(([, option]) => !(option instanceof z.ZodOptional && option.unwrap() instanceof z.ZodNever))
    .map(([key]) => key);
  if (issue.code === 'unrecognized_keys') {
    throw new GrpoError(
      'config',
      `${where}.options.${issue.keys[0]} is not an option of reward '${entry.type}' (its options: ${known.join(', ') || 'none'})`,
    );
  }
  throw new GrpoError('config', `${where}.options.${issue.path.join('.')}: ${issue.message}`);
}

/** One `rewards:` entry of a config file; its type and options are checked against the registry. */
export const rewardEntrySchema = z
  .strictObject({
    type: z
      .string()
      .describe(
        'a registered reward type: math, countdown, code, format, language, overlong, judge, kimi_length, or your own',
      ),
    name: z.string().optional().describe('name in logs and for GDPO (default: the type)'),
    weight: z.number().default(1).describe('weight in the summed reward'),
    options: z.record(z.string(), z.unknown()).default({}).describe('options of that reward type'),
  })
  .superRefine((entry, ctx) => {
    try {
      rewardOptions(entry, 'reward');
    } catch (e) {
      if (!(e instanceof GrpoError)) throw e;
      ctx.addIssue({ code: 'custom', message: e.message.replace(/^reward\./, '') });
    }
  });

export function buildRewards(entries: readonly RewardConfigEntry[]): RewardSpec[] {
  return entries.map((e, i) => {
    const options = rewardOptions(e, `rewards[${i}]`);
    return { name: e.name ?? e.type, weight: e.weight ?? 1, ...rewardTypes.get(e.type).build(options) } as RewardSpec;
  });
}

/** The first reward of a config list whose type decides correctness, by its name in the logs. */
export function correctnessReward(entries: readonly RewardConfigEntry[]): string | undefined {
  const e = entries.find((x) => rewardTypes.has(x.type) && rewardTypes.get(x.type).correctness);
  return e ? (e.name ?? e.type) : undefined;
}

// ---- the built-in reward types ----

const flag = z.boolean({ error: 'must be true or false' }).optional();
// Math-Verify's options (parse/verify), with its defaults
const extractAndCompare = {
  fallbackLastNumber: flag.describe('take the last number when nothing marks the answer (default true)'),
  floatPrecision: z
    .number({ error: 'must be an integer from 0 to 15' })
    .int({ error: 'must be an integer from 0 to 15' })
    .min(0, { error: 'must be an integer from 0 to 15' })
    .max(15, { error: 'must be an integer from 0 to 15' })
    .optional()
    .describe(
      'decimal places a written decimal is rounded to before it is compared with an exact value (Math-Verify float_rounding; default 6)',
    ),
  strict: flag.describe('variables must match: y=3 is not x=3 (Math-Verify strict; default true)'),
  allowSetRelationComp: flag.describe(
    'a set or interval may equal a relation such as 1 < x < 2 in either direction (Math-Verify allow_set_relation_comp; default false)',
  ),
  timeoutMs: z
    .number({ error: 'must be a positive number of milliseconds' })
    .positive({ error: 'must be a positive number of milliseconds' })
    .optional()
    .describe('one deadline for a whole grading call, extraction and every comparison (default 5000)'),
  symbolic: flag.describe('compare with the CAS as well as exactly (default true)'),
};
const mathOptions = z.object({
  ...extractAndCompare,
  answerKey: z.string().optional().describe('sample field holding the gold answer (default answer)'),
  correct: z.number().optional().describe('reward of a correct answer (default 1)'),
  incorrect: z.number().optional().describe('reward otherwise (default 0)'),
  requireStop: z
    .never({ error: REQUIRE_STOP_MOVED })
    .optional()
    .describe('removed: use algorithm.require_stop, the batch transform'),
});
const countdownOptions = z.object({
  formatScore: z.number().optional().describe('score of a well-formed wrong answer (TinyZero; default 0.1)'),
  score: z.number().optional().describe('score of a correct equation (default 1)'),
});
const pythonLimits = z
  .object({
    timeoutMs: z.number().positive().optional(),
    testTimeoutMs: z.number().positive().optional(),
    memoryBytes: z.number().positive().optional(),
    fileBytes: z.number().positive().optional(),
    outputBytes: z.number().positive().optional(),
    python: z.string().optional(),
    allowWeakIsolation: z.boolean().optional(),
  })
  .strict();
const javascriptLimits = z
  .object({
    timeoutMs: z.number().positive().optional(),
    memoryBytes: z.number().positive().optional(),
    stackBytes: z.number().positive().optional(),
    graceMs: z.number().nonnegative().optional(),
  })
  .strict();
const codeOptions = z.object({
  language: z
    .enum(['python', 'javascript'])
    .optional()
    .describe('language of the program (default sample.language, else python)'),
  allOrNothing: z.boolean().optional().describe('1 only when every test passes (default: the share passed)'),
  concurrency: z.number().int().positive().optional().describe('programs run at once (default: the CPUs)'),
  python: pythonLimits.optional().describe('sandbox limits of Python programs'),
  javascript: javascriptLimits.optional().describe('sandbox limits of JavaScript programs'),
});
const correctnessTypes = { math: mathOptions, countdown: countdownOptions, code: codeOptions };

registerReward({
  name: 'math',
  description: 'the final answer equals the gold answer (extraction + symbolic equivalence)',
  options: mathOptions,
  correctness: true,
  build: (o) => ({ fn: mathReward(o) }),
});
registerReward({
  name: 'countdown',
  description: 'the equation uses the given numbers once each and reaches the target (TinyZero)',
  options: countdownOptions,
  correctness: true,
  build: (o) => ({ fn: countdownReward(o) }),
});
registerReward({
  name: 'code',
  description: "share of the sample's tests the extracted program passes, in a sandbox",
  options: codeOptions,
  correctness: true,
  build: (o) => ({ fn: codeReward(o) }),
});
registerReward({
  name: 'format',
  description: 'R1 layout <think>…</think><answer>…</answer>',
  options: z.object({
    strict: z.boolean().optional().describe("open-r1's exact layout with newlines (default false)"),
    requireAnswerTag: z
      .boolean()
      .optional()
      .describe('require <answer>…</answer> after the think block (default true)'),
    thinkOpenedInPrompt: z
      .boolean()
      .optional()
      .describe('the prompt ends with <think> (R1-Zero template; default false)'),
  }),
  build: (o) => ({ fn: formatReward(o) }),
});
registerReward({
  name: 'language',
  description: 'share of the chain of thought in the target language (DeepSeek-R1 language consistency)',
  options: z.object({
    language: z.union([z.string(), z.array(z.string())]).describe('ISO 639-1 code or Unicode script names'),
  }),
  build: (o) => ({ fn: languageConsistencyReward(o) }),
});
registerReward({
  name: 'overlong',
  description: 'DAPO soft overlong punishment: 0, then a linear ramp to −1 over the last cacheLength tokens',
  options: z.object({
    maxCompletionLength: z.number().int().positive().describe('L_max, the generation limit in tokens'),
    cacheLength: z.number().int().nonnegative().describe('L_cache, the soft zone before L_max'),
  }),
  build: (o) => ({ fn: overlongReward(o) }),
});
registerReward({
  name: 'judge',
  description: 'an OpenAI-compatible model judges the answer CORRECT or INCORRECT',
  options: z.object({
    baseUrl: z.string().describe('server URL ending before /chat/completions'),
    model: z.string(),
    apiKey: z.string().optional(),
    concurrency: z.number().int().positive().optional(),
    retries: z.number().int().nonnegative().optional(),
    backoffMs: z.number().nonnegative().optional(),
    timeoutMs: z.number().positive().optional(),
    temperature: z.number().nonnegative().optional(),
    maxTokens: z.number().int().positive().optional(),
    cacheDir: z.string().optional(),
  }),
  build: (o) => ({ fn: judgeReward(o) }),
});
registerReward({
  name: 'kimi_length',
  description: 'Kimi k1.5 length reward within each group, paired with a correctness reward',
  options: z.object({
    correctness: z.enum(['math', 'countdown', 'code']).default('math').describe('the reward that decides correct'),
    correctnessOptions: z.record(z.string(), z.unknown()).default({}).describe('its options'),
  }),
  build: (o) => {
    const schema = correctnessTypes[o.correctness];
    const inner = schema.strict().safeParse(o.correctnessOptions);
    if (!inner.success)
      throw new GrpoError('config', `kimi_length correctnessOptions: ${inner.error.issues[0].message}`);
    const built = rewardTypes.get(o.correctness).build(inner.data as never) as { fn: RewardFn };
    return { groupFn: kimiLengthReward({ isCorrect: built.fn }) };
  },
});
