/**
 * Rejection sampling for SFT (DeepSeek-R1 §2.3.3, stage 3): sample `n` completions per prompt from the current
 * model, score them with the run's reward functions, keep those whose weighted reward reaches a threshold
 * (distinct completions only, optionally at most `maxPerPrompt` per prompt), and return them as SFT examples.
 */
import { generate } from '../rollout/generate.ts';
import type { Completion } from '../rollout/completion.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { combineRewards } from '../rewards/combine.ts';
import type { RewardSpec } from '../rewards/types.ts';
import type { Example } from '../data/presets.ts';
import { GrpoError } from '../errors.ts';
import { encodePrompt } from '../data/templates.ts';
import type { SftExample } from './batches.ts';

export interface RejectionSamplingOptions {
  rewards: readonly RewardSpec[];
  /** samples per prompt */
  n: number;
  temperature: number;
  topP?: number;
  maxTokens: number;
  /** keep samples whose weighted total reward is ≥ this */
  threshold: number;
  /** sampling seed (default 0) */
  seed?: number;
  /** keep completions cut at maxTokens (default false: they never learned to stop) */
  keepTruncated?: boolean;
  /** at most this many kept samples per prompt (default: all) */
  maxPerPrompt?: number;
  /** prompts generated together (default 32) */
  batchPrompts?: number;
  /** prompt text of an example (default example.prompt) */
  promptText?: (e: Example) => string;
  /** called after each generation batch with (prompts done, prompts total, kept so far) */
  onProgress?: (done: number, total: number, kept: number) => void;
}

export interface AcceptedSample extends SftExample {
  /** index of the example the prompt came from */
  index: number;
  promptText: string;
  completionText: string;
  reward: number;
}

export interface RejectionSamplingResult {
  accepted: AcceptedSample[];
  generated: number;
  /** passed the threshold but were a repeat of a kept completion of the same prompt */
  duplicates: number;
  truncated: number;
  /** fraction of generated samples at or above the threshold */
  passRate: number;
  /** prompts with at least one kept sample */
  promptsCovered: number;
  /** reward-function failures by reward name (scored 0, never fatal) */
  rewardFailures: Record<string, number>;
}

export async function rejectionSample(
  model: LlamaModel,
  tokenizer: Tokenizer,
  examples: readonly Example[],
  opts: RejectionSamplingOptions,
): Promise<RejectionSamplingResult> {
  checkOptions(examples, opts);
  const eos = new Set(model.config.eosTokenIds ?? tokenizer.eosIds);
  const eosId = [...eos][0];
  if (eosId === undefined)
    throw new GrpoError(
      'tokenizer',
      'the model has no EOS token; rejection-sampled completions could not be taught to stop',
    );
  const chunk = opts.batchPrompts ?? 32;
  const tally: Tally = { accepted: [], rewardFailures: {}, generated: 0, duplicates: 0, truncated: 0, passed: 0 };
  for (let start = 0; start < examples.length; start += chunk) {
    const batch = await sampleAndScore(model, tokenizer, examples.slice(start, start + chunk), start, opts, eos);
    for (const [name, count] of Object.entries(batch.failures))
      tally.rewardFailures[name] = (tally.rewardFailures[name] ?? 0) + count;
    keepPassing(batch, start, opts, { eos, eosId }, tally);
    opts.onProgress?.(Math.min(start + chunk, examples.length), examples.length, tally.accepted.length);
  }
  const { accepted, generated, duplicates, truncated, passed, rewardFailures } = tally;
  return {
    accepted,
    generated,
    duplicates,
    truncated,
    passRate: generated ? passed / generated : 0,
    promptsCovered: new Set(accepted.map((a) => a.index)).size,
    rewardFailures,
  };
}

function checkOptions(examples: readonly Example[], opts: RejectionSamplingOptions): void {
  if (examples.length === 0) throw new GrpoError('data', 'rejection sampling needs at least one prompt');
  if (opts.rewards.length === 0)
    throw new GrpoError('config', 'rejection sampling needs at least one reward function to judge samples');
  if (!Number.isInteger(opts.n) || opts.n < 1)
    throw new GrpoError('config', `rejection sampling n must be a positive integer, got ${opts.n}`);
}

/** The counts and kept samples of a run so far. */
interface Tally {
  accepted: AcceptedSample[];
  rewardFailures: Record<string, number>;
  generated: number;
  duplicates: number;
  truncated: number;
  /** samples at or above the threshold, kept or not */
  passed: number;
}

/** One generation batch: its prompts, the sampled completions, their text and weighted total rewards. */
interface ScoredBatch {
  texts: string[];
  prompts: number[][];
  out: Completion[];
  completions: string[];
  total: readonly number[];
  failures: Record<string, number>;
}

/** `n` samples of each prompt of `part` (its first example is number `start`), scored by the run's rewards. */
async function sampleAndScore(
  model: LlamaModel,
  tokenizer: Tokenizer,
  part: readonly Example[],
  start: number,
  opts: RejectionSamplingOptions,
  eos: ReadonlySet<number>,
): Promise<ScoredBatch> {
  const texts = part.map(opts.promptText ?? ((e: Example) => e.prompt));
  const prompts = texts.map((t) => encodePrompt(tokenizer, t));
  const out = generate(model, prompts, {
    n: opts.n,
    maxTokens: opts.maxTokens,
    temperature: opts.temperature,
    topP: opts.topP,
    seed: (opts.seed ?? 0) + start,
    decode: (ids) => tokenizer.decode(ids),
  });
  const completions = out.map((c) => c.text ?? tokenizer.decode(c.tokens.filter((t) => !eos.has(t))));
  const samples = out.map((c) => ({
    ...part[c.promptIndex],
    completion_ids: c.tokens,
    finish_reason: c.finishReason,
  }));
  const scored = await combineRewards(opts.rewards, completions, samples, {
    groupIds: out.map((c) => start + c.promptIndex),
  });
  return { texts, prompts, out, completions, total: scored.total, failures: scored.failures };
}

/**
 * Keeps the samples at or above the threshold: distinct completions of a prompt only, none cut at maxTokens unless
 * asked, at most maxPerPrompt of a prompt; a kept completion that stopped ends with EOS, so SFT teaches it to stop.
 */
function keepPassing(
  batch: ScoredBatch,
  start: number,
  opts: RejectionSamplingOptions,
  stop: { eos: ReadonlySet<number>; eosId: number },
  tally: Tally,
): void {
  const seen = new Map<number, Set<string>>();
  batch.out.forEach((c, i) => {
    tally.generated++;
    if (c.finishReason === 'length') tally.truncated++;
    if (!(batch.total[i] >= opts.threshold)) return;
    tally.passed++;
    if (c.finishReason === 'length' && !opts.keepTruncated) return;
    const keys = seen.get(c.promptIndex) ?? new Set<string>();
    seen.set(c.promptIndex, keys);
    const key = c.tokens.join(',');
    if (keys.has(key)) {
      tally.duplicates++;
      return;
    }
    if (opts.maxPerPrompt !== undefined && keys.size >= opts.maxPerPrompt) return;
    keys.add(key);
    const body = c.tokens.filter((t) => !stop.eos.has(t));
    tally.accepted.push({
      index: start + c.promptIndex,
      prompt: batch.prompts[c.promptIndex],
      completion: c.finishReason === 'stop' ? [...body, stop.eosId] : body,
      promptText: batch.texts[c.promptIndex],
      completionText: batch.completions[i],
      reward: batch.total[i],
    });
  });
}
