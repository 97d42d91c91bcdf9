/**
 * Rejection sampling for SFT (DeepSeek-R1 §2.3.3, stage 3): sample `n` completions per prompt from the current
 * model, score them with the run's reward functions, keep those whose weighted reward reaches a threshold
 * (distinct completions only, optionally at most `maxPerPrompt` per prompt), and return them as SFT examples.
 */
import { generate } from '../rollout/generate.ts';
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
  if (examples.length === 0) throw new GrpoError('data', 'rejection sampling needs at least one prompt');
  if (opts.rewards.length === 0)
    throw new GrpoError('config', 'rejection sampling needs at least one reward function to judge samples');
  if (!Number.isInteger(opts.n) || opts.n < 1)
    throw new GrpoError('config', `rejection sampling n must be a positive integer, got ${opts.n}`);
  const eos = new Set(model.config.eosTokenIds ?? tokenizer.eosIds);
  const eosId = [...eos][0];
  if (eosId === undefined)
    throw new GrpoError(
      'tokenizer',
      'the model has no EOS token; rejection-sampled completions could not be taught to stop',
    );
  const promptText = opts.promptText ?? ((e: Example) => e.prompt);
  const chunk = opts.batchPrompts ?? 32;
  const accepted: AcceptedSample[] = [];
  const rewardFailures: Record<string, number> = {};
  let generated = 0,
    duplicates = 0,
    truncated = 0,
    passed = 0;
  for (let start = 0; start < examples.length; start += chunk) {
    const part = examples.slice(start, start + chunk);
    const texts = part.map(promptText);
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
    for (const [name, count] of Object.entries(scored.failures))
      rewardFailures[name] = (rewardFailures[name] ?? 0) + count;
    const seen = new Map<number, Set<string>>();
    out.forEach((c, i) => {
      generated++;
      if (c.finishReason === 'length') truncated++;
      if (!(scored.total[i] >= opts.threshold)) return;
      passed++;
      if (c.finishReason === 'length' && !opts.keepTruncated) return;
      const keys = seen.get(c.promptIndex) ?? new Set<string>();
      seen.set(c.promptIndex, keys);
      const key = c.tokens.join(',');
      if (keys.has(key)) {
        duplicates++;
        return;
      }
      if (opts.maxPerPrompt !== undefined && keys.size >= opts.maxPerPrompt) return;
      keys.add(key);
      const body = c.tokens.filter((t) => !eos.has(t));
      accepted.push({
        index: start + c.promptIndex,
        prompt: prompts[c.promptIndex],
        completion: c.finishReason === 'stop' ? [...body, eosId] : body,
        promptText: texts[c.promptIndex],
        completionText: completions[i],
        reward: scored.total[i],
      });
    });
    opts.onProgress?.(Math.min(start + chunk, examples.length), examples.length, accepted.length);
  }
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
