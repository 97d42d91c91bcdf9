/**
 * Held-out evaluation of a model on prompts with gold answers: accuracy (mean over samples, i.e. pass@1),
 * pass@k (some sample of a prompt is correct, k = samples per prompt), R1 format rate and completion length.
 * Correctness is the rule-based math reward (answer in <answer> tags, else \boxed{}, else the last number),
 * the same function RL trains on, so the numbers are comparable before and after training.
 */
import { generate } from '../rollout/generate.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { mathReward } from '../rewards/math/grade.ts';
import { hasThinkAnswerFormat, type FormatOptions } from '../rewards/format.ts';
import type { RewardFn } from '../rewards/types.ts';
import type { Example } from '../data/presets.ts';
import { GrpoError } from '../errors.ts';
import { encodePrompt } from '../data/templates.ts';
import { embeddedEpisodes } from '../rollout/embedded-episodes.ts';
import type { AgentLoopFor } from './agent-setup.ts';
import { mean } from '../algorithms/stats.ts';

export interface EvaluateOptions {
  /** samples per prompt (default 1) */
  nSamples?: number;
  /** 0 = greedy (default) */
  temperature?: number;
  topP?: number;
  /** completion tokens at most; never more than the model's context leaves beside the longest prompt of a batch */
  maxTokens: number;
  /** sampling seed (default 0) */
  seed?: number;
  /** prompts generated together (default 64) */
  batchPrompts?: number;
  /** prompt text of an example (default: example.prompt as is) */
  promptText?: (e: Example) => string;
  /** already tokenized prompts, one per example (the RL trainer's templated prompts); overrides promptText */
  promptIds?: readonly number[][];
  /** correctness, 1 = correct (default: mathReward against example.answer) */
  correct?: RewardFn;
  format?: FormatOptions;
  /** multi-turn: every completion is an episode in this agent loop (its tool calls are counted) */
  agent?: AgentLoopFor;
}

export interface EvalCompletion {
  index: number;
  sample: number;
  prompt: string;
  completion: string;
  answer: string | undefined;
  correct: boolean;
  format: boolean;
  tokens: number;
  finish_reason: 'stop' | 'length';
  /** multi-turn: tool calls the episode made */
  tool_calls?: number;
}

export interface EvalReport {
  accuracy: number;
  pass_at_k: number;
  k: number;
  format_rate: number;
  mean_length: number;
  truncated_rate: number;
  prompts: number;
  seconds: number;
  /** multi-turn: tool calls per episode */
  tool_calls?: number;
}

export async function evaluateModel(
  model: LlamaModel,
  tokenizer: Tokenizer,
  examples: readonly Example[],
  opts: EvaluateOptions,
): Promise<{ report: EvalReport; completions: EvalCompletion[] }> {
  if (examples.length === 0) throw new GrpoError('data', 'evaluation needs at least one example');
  const n = opts.nSamples ?? 1;
  const temperature = opts.temperature ?? 0;
  if (temperature === 0 && n > 1)
    throw new GrpoError(
      'config',
      `greedy decoding (temperature 0) gives ${n} identical samples; set a temperature > 0 for n_samples > 1`,
    );
  const run: EvalRun = {
    model,
    tokenizer,
    opts,
    n,
    temperature,
    correct: opts.correct ?? mathReward(),
    eos: new Set(model.config.eosTokenIds ?? tokenizer.eosIds),
  };
  const chunk = opts.batchPrompts ?? 64;
  const started = performance.now();
  const completions: EvalCompletion[] = [];
  for (let start = 0; start < examples.length; start += chunk)
    completions.push(...(await evaluateBatch(run, examples.slice(start, start + chunk), start)));
  return { report: reportOf(completions, examples.length, run, started), completions };
}

/** What every batch of an evaluation shares. */
interface EvalRun {
  model: LlamaModel;
  tokenizer: Tokenizer;
  opts: EvaluateOptions;
  n: number;
  temperature: number;
  correct: RewardFn;
  eos: ReadonlySet<number>;
}

/** The completions of one batch of prompts (its first example is number `start`), each graded. */
async function evaluateBatch(run: EvalRun, part: readonly Example[], start: number): Promise<EvalCompletion[]> {
  const { model, tokenizer, opts } = run;
  const texts = part.map(opts.promptText ?? ((e: Example) => e.prompt));
  const prompts = opts.promptIds
    ? (opts.promptIds.slice(start, start + part.length) as number[][])
    : texts.map((t) => encodePrompt(tokenizer, t));
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest >= model.config.maxSeqLen)
    throw new GrpoError(
      'data',
      `an evaluation prompt of ${longest} tokens fills the model's context of ${model.config.maxSeqLen}: leave such prompts out (--limit, a shorter template) or use a longer-context model`,
    );
  const options = {
    n: run.n,
    maxTokens: Math.min(opts.maxTokens, model.config.maxSeqLen - longest),
    temperature: run.temperature,
    topP: opts.topP,
    seed: (opts.seed ?? 0) + start,
    decode: (ids: number[]) => tokenizer.decode(ids),
  };
  const out = opts.agent
    ? await embeddedEpisodes(model, prompts, options, opts.agent(part))
    : generate(model, prompts, options);
  const graded: EvalCompletion[] = [];
  for (const c of out) {
    const e = part[c.promptIndex];
    const text = c.text ?? tokenizer.decode(c.tokens.filter((t) => !run.eos.has(t)));
    const sample = { ...e, completion_ids: c.tokens, finish_reason: c.finishReason };
    // a grader that throws scores 0, as in training (rewards/combine.ts), instead of ending the evaluation
    const score = await Promise.resolve()
      .then(() => run.correct(text, sample))
      .catch(() => 0);
    graded.push({
      index: start + c.promptIndex,
      sample: c.sampleIndex,
      prompt: texts[c.promptIndex],
      completion: text,
      answer: e.answer,
      correct: score >= 1,
      format: hasThinkAnswerFormat(text, opts.format),
      tokens: c.tokens.length,
      finish_reason: c.finishReason,
      ...(c.episode ? { tool_calls: c.episode.toolCalls } : {}),
    });
  }
  return graded;
}

/** Accuracy (pass@1), pass@k, format rate, length and truncation over the graded completions. */
function reportOf(completions: readonly EvalCompletion[], prompts: number, run: EvalRun, started: number): EvalReport {
  const rate = (f: (c: EvalCompletion) => number) => mean(completions.map(f), 0);
  const anyCorrect = new Array<boolean>(prompts).fill(false);
  for (const c of completions) if (c.correct) anyCorrect[c.index] = true;
  return {
    accuracy: rate((c) => (c.correct ? 1 : 0)),
    pass_at_k: mean(
      anyCorrect.map((x) => (x ? 1 : 0)),
      0,
    ),
    k: run.n,
    format_rate: rate((c) => (c.format ? 1 : 0)),
    mean_length: rate((c) => c.tokens),
    truncated_rate: rate((c) => (c.finish_reason === 'length' ? 1 : 0)),
    prompts,
    seconds: (performance.now() - started) / 1000,
    ...(run.opts.agent ? { tool_calls: rate((c) => c.tool_calls ?? 0) } : {}),
  };
}
