/**
 * `grpo sft --config FILE [--key value …]`: the supervised stages of the R1 pipeline (DeepSeek-R1 §2.3).
 *   cold_start          SFT on reference (prompt, completion) pairs: a file, or an embedded task's traces;
 *   rejection_sampling  sample n completions per prompt from the model, keep those the rewards pass, SFT on them.
 * Writes <out_dir>/<name>/{config.json, metrics.jsonl, model/} (+ rejection_samples.jsonl) and prints the held-out
 * accuracy before and after.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { join } from 'node:path';
import { LlamaModel } from '../model/llama-model.ts';
import { openModel } from '../model/open-model.ts';
import type { LlamaConfig } from '../model/config.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { createCharTokenizer } from '../model/tokenizer/char-tokenizer.ts';
import { embeddedTask, isEmbeddedData } from '../data/synthetic/index.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import type { Example } from '../data/presets.ts';
import { buildRewards } from '../rewards/registry.ts';
import { loadSftConfig, sftConfigReference, sftRunDir, type SftConfig } from '../trainer/sft-config.ts';
import { loadPromptExamples, loadSftExamples, promptTemplate } from '../trainer/sft-data.ts';
import { fitToLength, tokenizeSftPairs, type SftExample } from '../trainer/sft-batches.ts';
import { rejectionSample } from '../trainer/sft-rejection.ts';
import { evaluateModel, type EvalReport } from '../trainer/sft-eval.ts';
import { saveSftModel, trainSft, type SftResult } from '../trainer/sft.ts';
import { loraOptions } from '../trainer/config/lora-options.ts';
import { claimRunFolder, SFT_OUTPUTS } from '../trainer/run-folder.ts';
import { GrpoError } from '../errors.ts';

export interface SftCommandResult {
  config: SftConfig;
  train: SftResult;
  before?: EvalReport;
  after?: EvalReport;
  examples: number;
  modelDir: string;
}

/** A new model for an embedded task (model.path null): its character tokenizer and model.init's shape. */
function newModel(c: SftConfig): { model: LlamaModel; tokenizer: Tokenizer } {
  const tokenizer = createCharTokenizer(embeddedTask(c.data.train).vocabulary);
  const i = c.model.init;
  if (i.dim % i.n_heads !== 0)
    throw new GrpoError(
      'config',
      `'model.init.dim' (${i.dim}) must be a multiple of 'model.init.n_heads' (${i.n_heads})`,
    );
  const config: LlamaConfig = {
    arch: 'llama',
    vocabSize: tokenizer.vocabSize,
    dim: i.dim,
    nLayers: i.n_layers,
    nHeads: i.n_heads,
    nKvHeads: i.n_kv_heads ?? i.n_heads,
    headDim: i.dim / i.n_heads,
    ffnDim: i.ffn_dim,
    ropeTheta: i.rope_theta,
    normEps: 1e-5,
    maxSeqLen: i.max_seq_len,
    tieEmbeddings: i.tie_embeddings,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: tokenizer.bosId,
    eosTokenIds: [...tokenizer.eosIds],
  };
  return {
    model: new LlamaModel(config, {
      seed: i.init_seed,
      threads: c.model.threads ?? undefined,
      device: c.model.device,
      precision: c.model.precision,
      ...trainingModelOptions(c),
    }),
    tokenizer,
  };
}

function openStartingModel(c: SftConfig): { model: LlamaModel; tokenizer: Tokenizer } {
  if (c.model.path === null) return newModel(c);
  return openModel(resolveModelPath(c.model.path), {
    threads: c.model.threads ?? undefined,
    device: c.model.device,
    tokenizer: c.model.tokenizer ?? undefined,
    precision: c.model.precision,
    ...trainingModelOptions(c),
  });
}

function trainingModelOptions(c: SftConfig) {
  return {
    lora: c.model.lora ? loraOptions(c.model.lora) : undefined,
    basePrecision: c.model.base_precision,
    recompute: c.training.gradient_checkpointing,
  };
}

/** Generation limit: configured, else what the embedded task needs plus slack, else 256. */
function maxTokensOf(c: SftConfig, configured: number | null): number {
  if (configured !== null) return configured;
  return isEmbeddedData(c.data.train) ? embeddedTask(c.data.train).maxCompletionTokens(c.data.task_options) + 8 : 256;
}

async function heldOutExamples(c: SftConfig): Promise<Example[] | null> {
  const path = c.data.eval ?? (isEmbeddedData(c.data.train) ? c.data.train : null);
  if (path === null) return null;
  return loadPromptExamples(
    {
      path,
      promptField: c.data.prompt_field,
      answerField: c.data.answer_field,
      limit: c.data.eval_size,
      seed: c.data.eval_seed,
      taskOptions: c.data.task_options,
    },
    'held_out',
  );
}

/** Training examples of the configured stage, as token ids. */
async function trainingExamples(
  c: SftConfig,
  model: LlamaModel,
  tokenizer: Tokenizer,
  template: (e: Example) => string,
  log: (s: string) => void,
): Promise<SftExample[]> {
  const source = {
    path: c.data.train,
    promptField: c.data.prompt_field,
    completionField: c.data.completion_field,
    answerField: c.data.answer_field,
    limit: c.data.limit ?? undefined,
    seed: c.seed,
    taskOptions: c.data.task_options,
  };
  if (c.stage === 'cold_start') {
    const pairs = await loadSftExamples(source);
    return tokenizeSftPairs(
      tokenizer,
      pairs.map((e) => ({ prompt: template(e), completion: e.completion })),
      model.config.eosTokenIds?.[0],
      { maskToolResponses: c.data.mask_tool_responses },
    );
  }
  const r = c.rejection;
  const prompts = await loadPromptExamples({ ...source, limit: r.prompts }, 'train');
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

/** Run the configured SFT stage. `log` gets the human-readable lines (default console.log). */
export async function runSft(c: SftConfig, log: (line: string) => void = console.log): Promise<SftCommandResult> {
  const runDir = sftRunDir(c);
  claimRunFolder(runDir, { resume: false, overwrite: c.overwrite, outputs: SFT_OUTPUTS, resumable: false });
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
  const { model, tokenizer } = openStartingModel(c);
  try {
    const template = promptTemplate(c.data.template, tokenizer, c.data.system);
    const heldOut = await heldOutExamples(c);
    const evalTokens = maxTokensOf(c, c.training.eval_max_tokens);
    const score = async () =>
      (await evaluateModel(model, tokenizer, heldOut!, { maxTokens: evalTokens, promptText: template, seed: c.seed }))
        .report;
    const before = heldOut && c.training.eval_final ? await score() : undefined;

    const all = await trainingExamples(c, model, tokenizer, template, log);
    const { kept, dropped } = fitToLength(all, model.config.maxSeqLen);
    if (dropped)
      log(`dropped ${dropped} of ${all.length} examples longer than the model's ${model.config.maxSeqLen} tokens`);
    const t = c.training,
      o = c.optimizer;
    model.createOptimizer({ weightDecay: o.weight_decay, beta1: o.beta1, beta2: o.beta2, eps: o.eps });
    const train = await trainSft(model, kept, {
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

/** `grpo sft --config FILE [--key value …]`. */
export async function sftCommand(
  configPath: string | null,
  overrides: readonly string[] = [],
  log?: (line: string) => void,
): Promise<SftCommandResult> {
  return runSft(loadSftConfig(configPath, overrides), log);
}

/** Register `grpo sft` on the command line program. */
export function registerSftCommand(program: Command): Command {
  return program
    .command('sft')
    .description(
      "supervised fine-tuning: cold-start SFT on reference completions, or rejection-sampling SFT on the model's own passing samples",
    )
    .option('--config <file>', 'YAML config (default: every key at its default)')
    .option('--print-config', 'list every config key with its default and doc, then exit')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      '\nAny config key can be overridden as --section.key value, e.g. --optimizer.lr 1e-4 --stage rejection_sampling',
    )
    .action(async (opts: { config?: string; printConfig?: boolean }, cmd: Command) => {
      if (opts.printConfig) {
        console.log(sftConfigReference());
        return;
      }
      await sftCommand(opts.config ?? null, cmd.args);
    });
}
