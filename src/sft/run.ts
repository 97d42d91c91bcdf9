/**
 * A `grpo sft` run, the supervised stages of the R1 pipeline (DeepSeek-R1 §2.3):
 *   cold_start          SFT on reference (prompt, completion) pairs: a file, or an embedded task's traces;
 *   rejection_sampling  sample n completions per prompt from the model, keep those the rewards pass, SFT on them.
 * Writes <out_dir>/<name>/{config.json, metrics.jsonl, model/} (+ rejection_samples.jsonl), with the held-out
 * accuracy before and after.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { embeddedTask, isEmbeddedData } from '../data/synthetic/index.ts';
import { readExamples, type ExampleSource } from '../data/examples.ts';
import { promptTemplate, type PromptTemplate } from '../data/templates.ts';
import type { Example } from '../data/presets.ts';
import { buildRewards } from '../rewards/registry.ts';
import { evaluateModel, type EvalReport } from '../trainer/evaluate.ts';
import { claimRunFolder, SFT_OUTPUTS } from '../trainer/run-folder.ts';
import { sftRunDir, type SftConfig } from './config.ts';
import { fitToLength, tokenizeSftPairs, type SftExample } from './batches.ts';
import { rejectionSample } from './rejection-sampling.ts';
import { saveSftModel, trainSft, type SftOptions, type SftResult } from './train.ts';
import { openStartingModel } from './starting-model.ts';
import { GrpoError } from '../errors.ts';

export interface SftRunResult {
  config: SftConfig;
  train: SftResult;
  before?: EvalReport;
  after?: EvalReport;
  examples: number;
  modelDir: string;
}

/** An SFT training set's size when an embedded task draws it and data.limit is not set. */
const EMBEDDED_TRAINING_SIZE = 10_000;

const COLUMN_ADVICE = 'set data.prompt_field / data.completion_field / data.answer_field to your column names';

/** Generation limit: configured, else what the embedded task needs plus slack, else 256. */
function maxTokensOf(c: SftConfig, configured: number | null): number {
  if (configured !== null) return configured;
  return isEmbeddedData(c.data.train) ? embeddedTask(c.data.train).maxCompletionTokens(c.data.task_options) + 8 : 256;
}

/** The data section as a source of examples: its file or task, columns, limit and seed. */
function trainingSource(c: SftConfig): ExampleSource {
  return {
    path: c.data.train,
    columns: { prompt: c.data.prompt_field, answer: c.data.answer_field },
    columnAdvice: COLUMN_ADVICE,
    limit: c.data.limit ?? undefined,
    seed: c.seed,
    taskOptions: c.data.task_options,
  };
}

/** Held-out prompts with answers: data.eval, else an embedded task's held-out draw, else none. */
async function heldOutExamples(c: SftConfig): Promise<Example[] | null> {
  const path = c.data.eval ?? (isEmbeddedData(c.data.train) ? c.data.train : null);
  if (path === null) return null;
  return readExamples({
    ...trainingSource(c),
    path,
    split: 'held_out',
    limit: c.data.eval_size,
    seed: c.data.eval_seed,
  });
}

/** cold_start: the reference (prompt, completion) pairs as token ids. */
async function coldStartExamples(c: SftConfig, model: LlamaModel, tokenizer: Tokenizer, template: PromptTemplate) {
  const source = trainingSource(c);
  const pairs = await readExamples({
    ...source,
    mapping: 'columns',
    columns: { ...source.columns, completion: c.data.completion_field },
    answers: 'optional',
    embeddedSize: EMBEDDED_TRAINING_SIZE,
  });
  return tokenizeSftPairs(
    tokenizer,
    pairs.map((e) => ({ prompt: template(e), completion: e.completion! })),
    model.config.eosTokenIds?.[0],
    { maskToolResponses: c.data.mask_tool_responses },
  );
}

/** rejection_sampling: the model's own samples the rewards pass (also written to rejection_samples.jsonl). */
async function rejectionSampledExamples(
  c: SftConfig,
  model: LlamaModel,
  tokenizer: Tokenizer,
  template: PromptTemplate,
  log: (s: string) => void,
): Promise<SftExample[]> {
  const r = c.rejection;
  const prompts = await readExamples({ ...trainingSource(c), limit: r.prompts });
  const result = await rejectionSample(model, tokenizer, prompts, {
    rewards: buildRewards(r.rewards),
    n: r.n,
    temperature: r.temperature,
    topP: r.top_p,
    maxTokens: maxTokensOf(c, r.max_tokens ?? c.training.eval_max_tokens),
    threshold: r.threshold,
    seed: c.seed,
    keepTruncated: r.keep_truncated,
    maxPerPrompt: r.max_per_prompt ?? undefined,
    promptText: template,
  });
  writeFileSync(
    join(sftRunDir(c), 'rejection_samples.jsonl'),
    result.accepted
      .map((a) =>
        JSON.stringify({ prompt: a.promptText, completion: a.completionText, reward: a.reward, index: a.index }),
      )
      .join('\n') + (result.accepted.length ? '\n' : ''),
  );
  log(
    `rejection sampling: kept ${result.accepted.length} of ${result.generated} samples (pass rate ${result.passRate.toFixed(3)}, ${result.duplicates} duplicates, ${result.truncated} truncated) covering ${result.promptsCovered}/${prompts.length} prompts`,
  );
  if (result.accepted.length === 0)
    throw new GrpoError(
      'data',
      `rejection sampling kept no sample (pass rate ${result.passRate}); lower rejection.threshold, raise rejection.n, or start from a stronger model`,
    );
  return result.accepted;
}

/** The config's training and optimizer sections as trainSft's options. */
function trainOptions(c: SftConfig, runDir: string): SftOptions {
  const t = c.training,
    o = c.optimizer;
  return {
    batchSize: t.batch_size,
    microBatchSize: t.micro_batch_size ?? undefined,
    steps: t.max_steps ?? undefined,
    epochs: t.epochs,
    lr: o.lr,
    schedule: o.schedule,
    warmupSteps: o.warmup_steps,
    minLrRatio: o.min_lr_ratio,
    maxGradNorm: o.max_grad_norm,
    seed: c.seed,
    metricsPath: join(runDir, 'metrics.jsonl'),
    progress: c.progress,
    label: c.stage,
  };
}

/** Run the configured SFT stage. `log` gets the human-readable lines (default console.log). */
export async function runSft(c: SftConfig, log: (line: string) => void = console.log): Promise<SftRunResult> {
  const runDir = sftRunDir(c);
  claimRunFolder(runDir, { resume: false, overwrite: c.overwrite, outputs: SFT_OUTPUTS, resumable: false });
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
  const { model, tokenizer } = openStartingModel(c);
  try {
    const template = promptTemplate(c.data.template, tokenizer, { system: c.data.system });
    const heldOut = await heldOutExamples(c);
    const evalTokens = maxTokensOf(c, c.training.eval_max_tokens);
    const score = async () =>
      (await evaluateModel(model, tokenizer, heldOut!, { maxTokens: evalTokens, promptText: template, seed: c.seed }))
        .report;
    const before = heldOut && c.training.eval_final ? await score() : undefined;

    const all =
      c.stage === 'cold_start'
        ? await coldStartExamples(c, model, tokenizer, template)
        : await rejectionSampledExamples(c, model, tokenizer, template, log);
    const { kept, dropped } = fitToLength(all, model.config.maxSeqLen);
    if (dropped)
      log(`dropped ${dropped} of ${all.length} examples longer than the model's ${model.config.maxSeqLen} tokens`);
    const o = c.optimizer;
    model.createOptimizer({ weightDecay: o.weight_decay, beta1: o.beta1, beta2: o.beta2, eps: o.eps });
    const train = await trainSft(model, kept, {
      ...trainOptions(c, runDir),
      evalEvery: heldOut ? c.training.eval_every : 0,
      evaluate: async () => {
        const r = await score();
        return { accuracy: r.accuracy, format_rate: r.format_rate };
      },
    });
    const modelDir = join(runDir, 'model');
    saveSftModel(modelDir, model, tokenizer, c.model.path ?? undefined);
    const after = heldOut && c.training.eval_final ? await score() : undefined;
    log(
      `trained ${train.steps} steps on ${kept.length} examples in ${train.seconds.toFixed(1)} s; final loss ${train.losses[train.losses.length - 1].toFixed(4)}; saved ${modelDir}`,
    );
    if (before && after)
      log(
        `accuracy_before=${before.accuracy.toFixed(3)} accuracy_after=${after.accuracy.toFixed(3)} format_rate_after=${after.format_rate.toFixed(3)}`,
      );
    return { config: c, train, before, after, examples: kept.length, modelDir };
  } finally {
    model.free();
  }
}
