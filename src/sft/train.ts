/**
 * Supervised fine-tuning (SFT): next-token loss on completion tokens only, token-mean over the batch
 * (TRL SFTTrainer, completion_only_loss), through the engine's per-token-coefficient seam: the loss gradient
 * w.r.t. each scored log-prob is −1/N on completion tokens and 0 on prompt tokens (DESIGN.md, "the key seam").
 *
 * One optimizer step = one batch of whole examples, run as micro-batches whose gradients accumulate; then
 * global-norm clipping and AdamW with a warm-up + decay schedule. Data order comes from `seed`, so two runs
 * with the same model, data and options give identical losses on the same machine.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import { learningRateAt, type ScheduleKind } from '../engine/schedule.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { savePolicy } from '../trainer/save-policy.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { GrpoError } from '../errors.ts';
import {
  EpochBatcher,
  completionTokenCount,
  microBatches,
  nllCoefficients,
  nllOf,
  sequenceOf,
  completionStart,
  type SftExample,
} from './batches.ts';

export type EvalMetrics = Record<string, number>;

export interface SftOptions {
  /** examples per optimizer step */
  batchSize: number;
  /** examples per forward/backward pass (default batchSize); gradients accumulate across them */
  microBatchSize?: number;
  /** optimizer steps; default epochs × ⌈examples / batchSize⌉ */
  steps?: number;
  /** passes over the data when `steps` is not given (default 1) */
  epochs?: number;
  /** peak learning rate */
  lr: number;
  /** decay after warm-up (default 'linear', as HF Trainer) */
  schedule?: ScheduleKind;
  warmupSteps?: number;
  /** learning-rate floor as a fraction of lr (default 0) */
  minLrRatio?: number;
  /** clip the global gradient norm (default 1, HF Trainer's max_grad_norm) */
  maxGradNorm?: number;
  /** seed of the data order (default 0) */
  seed?: number;
  /** append one JSON line per step here (the file is created or emptied first) */
  metricsPath?: string;
  /** show a progress bar on stderr (default false) */
  progress?: boolean;
  /** label at the start of the progress bar (default 'sft') */
  label?: string;
  /** run `evaluate` after every this many steps (0: never) */
  evalEvery?: number;
  /** held-out evaluation; its numbers are logged with an `eval_` prefix */
  evaluate?: (step: number) => EvalMetrics | Promise<EvalMetrics>;
  /** stop early after an evaluation when this returns true */
  stopWhen?: (metrics: EvalMetrics, step: number) => boolean;
  /** called with every step's log line */
  onStep?: (line: SftStepLog) => void;
  /** give up after this many consecutive non-finite steps (default 10) */
  maxConsecutiveSkips?: number;
}

export interface SftStepLog {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  /** tokens read this step (prompts + completions, no padding) */
  tokens: number;
  completion_tokens: number;
  step_ms: number;
  /** the gradient was not finite and no update was made */
  skipped: boolean;
  [evalKey: `eval_${string}`]: number;
}

export interface SftResult {
  /** optimizer steps taken */
  steps: number;
  losses: number[];
  /** metrics of the last evaluation, if any ran */
  lastEval?: EvalMetrics;
  /** `stopWhen` ended training before the planned steps */
  stoppedEarly: boolean;
  skippedSteps: number;
  tokens: number;
  seconds: number;
}

/** Planned optimizer steps for a data set size. */
export function plannedSteps(examples: number, opts: Pick<SftOptions, 'steps' | 'epochs' | 'batchSize'>): number {
  if (opts.steps !== undefined) return opts.steps;
  return Math.max(1, Math.ceil(((opts.epochs ?? 1) * examples) / opts.batchSize));
}

function checkOptions(examples: readonly SftExample[], o: SftOptions, steps: number, maxLen: number): void {
  if (examples.length === 0) throw new GrpoError('data', 'SFT has no examples to train on');
  if (!Number.isInteger(steps) || steps < 1)
    throw new GrpoError('config', `SFT steps must be a positive integer, got ${steps}`);
  if (!(o.lr >= 0)) throw new GrpoError('config', `SFT lr must be ≥ 0, got ${o.lr}`);
  if ((o.warmupSteps ?? 0) >= steps && (o.schedule ?? 'linear') !== 'constant') {
    throw new GrpoError(
      'config',
      `warm-up (${o.warmupSteps} steps) must be shorter than training (${steps} steps) for a decaying schedule; lower warmup_steps or use a constant schedule`,
    );
  }
  examples.forEach((e, i) => {
    if (e.prompt.length < 1 || e.completion.length < 1)
      throw new GrpoError('data', `SFT example ${i} needs a non-empty prompt and completion`);
    if (e.prompt.length + e.completion.length > maxLen) {
      throw new GrpoError(
        'data',
        `SFT example ${i} has ${e.prompt.length + e.completion.length} tokens, more than the model's maxSeqLen ${maxLen}; drop long examples first (fitToLength)`,
      );
    }
  });
}

/** What a run has done so far, across steps. */
interface RunProgress {
  losses: number[];
  lastEval?: EvalMetrics;
  skippedSteps: number;
  consecutiveSkips: number;
  tokens: number;
  started: number;
}

/** Train `model` (which must have an optimizer) on `examples`. */
export async function trainSft(
  model: LlamaModel,
  examples: readonly SftExample[],
  opts: SftOptions,
): Promise<SftResult> {
  const steps = plannedSteps(examples.length, opts);
  checkOptions(examples, opts, steps, model.config.maxSeqLen);
  const optimizer = model.optimizer;
  const micro = opts.microBatchSize ?? opts.batchSize;
  const schedule = lrSchedule(opts, steps);
  const batcher = new EpochBatcher(examples.length, opts.batchSize, opts.seed ?? 0);
  if (opts.metricsPath) {
    mkdirSync(dirname(opts.metricsPath), { recursive: true });
    writeFileSync(opts.metricsPath, '');
  }
  const bar = progressBar(opts, steps);
  const run: RunProgress = { losses: [], skippedSteps: 0, consecutiveSkips: 0, tokens: 0, started: performance.now() };
  let stoppedEarly = false;
  try {
    for (let step = 0; step < steps; step++) {
      const t0 = performance.now();
      const batch = batcher.next().map((i) => examples[i]);
      const { loss, completionTokens } = accumulateGradients(model, batch, micro);
      const lr = learningRateAt(step, schedule);
      const { gradNorm, skipped } = optimizer.step({ lr, maxGradNorm: opts.maxGradNorm ?? 1 });
      countSkip(run, skipped || !Number.isFinite(loss), step, opts.maxConsecutiveSkips ?? 10);
      const tokens = batch.reduce((n, e) => n + e.prompt.length + e.completion.length, 0);
      run.tokens += tokens;
      run.losses.push(loss);
      const line: SftStepLog = {
        step,
        epoch: batcher.epochProgress,
        loss,
        lr,
        grad_norm: gradNorm,
        tokens,
        completion_tokens: completionTokens,
        step_ms: performance.now() - t0,
        skipped,
      };
      const stop = await evaluateAfter(step + 1, opts, line, run);
      if (opts.metricsPath) appendFileSync(opts.metricsPath, JSON.stringify(line) + '\n');
      opts.onStep?.(line);
      bar?.update(step + 1, progressFields(loss, run));
      if (stop) {
        stoppedEarly = step + 1 < steps;
        break;
      }
    }
  } finally {
    bar?.stop();
  }
  const { losses, lastEval, skippedSteps, tokens } = run;
  const seconds = (performance.now() - run.started) / 1000;
  return { steps: losses.length, losses, lastEval, stoppedEarly, skippedSteps, tokens, seconds };
}

/** Warm-up, then the configured decay to `minLrRatio`·lr over the planned steps. */
function lrSchedule(opts: SftOptions, steps: number) {
  return {
    kind: opts.schedule ?? 'linear',
    lr: opts.lr,
    warmupSteps: opts.warmupSteps ?? 0,
    totalSteps: steps,
    minRatio: opts.minLrRatio ?? 0,
  };
}

/** One batch's forward and backward passes, micro-batch by micro-batch; the gradients accumulate in the model. */
function accumulateGradients(
  model: LlamaModel,
  batch: readonly SftExample[],
  microBatchSize: number,
): { loss: number; completionTokens: number } {
  const completionTokens = completionTokenCount(batch);
  let loss = 0;
  for (const mb of microBatches(batch, microBatchSize)) {
    const pass = model.forward(mb.map(sequenceOf), { grad: true, logprobsFrom: mb.map(completionStart) });
    loss += nllOf(mb, pass.logp, completionTokens);
    pass.backward({ logp: nllCoefficients(mb, completionTokens) });
  }
  return { loss, completionTokens };
}

/** Counts a step the optimizer skipped; too many in a row means training diverged, so it stops with advice. */
function countSkip(run: RunProgress, skipped: boolean, step: number, maxSkips: number): void {
  if (!skipped) {
    run.consecutiveSkips = 0;
    return;
  }
  run.skippedSteps++;
  if (++run.consecutiveSkips >= maxSkips)
    throw new GrpoError(
      'numeric',
      `SFT stopped: ${run.consecutiveSkips} steps in a row had a non-finite loss or gradient (last at step ${step}); lower lr or check the data`,
    );
}

/** The held-out evaluation due after `done` steps, logged into `line`; true when `stopWhen` ends training. */
async function evaluateAfter(done: number, opts: SftOptions, line: SftStepLog, run: RunProgress): Promise<boolean> {
  if (!opts.evaluate || !opts.evalEvery || done % opts.evalEvery !== 0) return false;
  const metrics = await opts.evaluate(done);
  run.lastEval = metrics;
  for (const [k, v] of Object.entries(metrics)) line[`eval_${k}`] = v;
  return opts.stopWhen?.(metrics, done) ?? false;
}

function progressBar(opts: SftOptions, steps: number): cliProgress.SingleBar | null {
  if (!opts.progress) return null;
  const bar = new cliProgress.SingleBar(
    {
      format: `${opts.label ?? 'sft'} {bar} {value}/{total} | loss {loss} | {tps} tok/s | {evalText}ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(steps, 0, { loss: '-', tps: '-', evalText: '' });
  return bar;
}

/** The progress bar's loss, throughput and last evaluation. */
function progressFields(loss: number, run: RunProgress) {
  const tps = Math.round(run.tokens / ((performance.now() - run.started) / 1000));
  const evalText = run.lastEval
    ? Object.entries(run.lastEval)
        .map(([k, v]) => `${k} ${v.toFixed(3)} `)
        .join('') + '| '
    : '';
  return { loss: loss.toFixed(4), tps, evalText };
}

/** The SFT result: a Hugging Face folder, or with LoRA a PEFT adapter folder (save-policy.ts). */
export function saveSftModel(dir: string, model: LlamaModel, tokenizer: Tokenizer, baseModel?: string): void {
  savePolicy(dir, model, tokenizer, { baseModel });
}
