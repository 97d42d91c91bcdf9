/**
 * `train(config)`: the RL loop. Each step: rollouts (generate G completions per prompt, score, filter) →
 * behaviour / reference log-probs and critic values → advantages → policy update (mini-batches × PPO epochs)
 * → metrics, periodic evaluation and checkpoints. Orchestrates; the maths lives in src/algorithms.
 */
import path from 'node:path';
import { openRunModels } from './run-models.ts';
import { describePlan } from './memory-plan.ts';
import type { RewardSpec } from '../rewards/index.ts';
import { UniformSampler, CurriculumSampler, PrioritizedSampler, type PromptSampler } from '../data/index.ts';
import { Rng } from '../util/rng.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import type { TrainConfig } from './config/schema.ts';
import type { EmbeddedTasks, PromptSet } from './prompts.ts';
import { collectRollouts } from './rollout-stage.ts';
import { isCorrect, type RolloutBatch } from './rollouts.ts';
import { scoreRollouts } from './score-stage.ts';
import { advantageStage } from './advantage-stage.ts';
import { policyUpdate } from './update-stage.ts';
import type { UpdateSequence } from './update-sequence.ts';
import { resolveRunPlan } from './run-plan.ts';
import { VALUE_HEAD } from '../model/llama-weights.ts';
import { evaluateModel, type EvalReport, type EvalCompletion } from './sft-eval.ts';
import { MetricsLog, progressBar, mean, std, type MetricRecord } from './metrics.ts';
import { saveCheckpoint, loadCheckpoint, type TrainerState } from './checkpoint.ts';
import { savePolicy } from './save-policy.ts';
import { claimRunFolder } from './run-folder.ts';
import { makeRolloutEngine } from './rollout-engine.ts';
import { klEstimate } from '../algorithms/index.ts';
import { GrpoError } from '../errors.ts';
import type { AgentOptions } from './agent-setup.ts';

export interface TrainOptions extends AgentOptions {
  /** reward functions to use instead of the config's `rewards` list (library use, tests) */
  rewards?: RewardSpec[];
  /** the reward whose value ≥ 1 means correct (default: the first math / countdown / code reward) */
  correctness?: string;
  /** embedded datasets for `embedded:<name>` */
  tasks?: EmbeddedTasks;
  /** continue from a checkpoint folder written by a previous run */
  resume?: string;
  /** no progress bar or summary lines */
  quiet?: boolean;
  /** stop after this many steps of this process (tests simulate a kill) */
  stopAfter?: number;
  /** called after every step with its metrics */
  onStep?: (m: MetricRecord) => void;
  /** called with the prepared sequences before each policy update (inspection, fault injection in tests) */
  beforeUpdate?: (step: number, seqs: UpdateSequence[]) => void;
  /** stop at the end of the current step and write a checkpoint (the CLI aborts it on SIGINT / SIGTERM) */
  signal?: AbortSignal;
}

export interface TrainResult {
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  steps: number;
  runDir: string;
  metrics: MetricRecord[];
  /** the run stopped early on `signal` (its checkpoint is written) */
  interrupted: boolean;
  /** multi-turn runs: held-out tool calls per episode before and after training */
  toolCallsBefore: number | null;
  toolCallsAfter: number | null;
}

export async function train(config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const plan = resolveRunPlan(config, opts);
  const { algorithm, correctness } = plan;
  const runDir = path.join(config.out_dir, config.name);
  claimRunFolder(runDir, { resume: !!opts.resume, overwrite: config.overwrite });
  const run = await openRunModels(config, plan, opts);
  const { model, tokenizer, ref, prompts, basePath } = run;
  if (!opts.quiet) console.error(`memory plan: about ${(run.memory.total / 1e9).toFixed(1)} GB (${describePlan(run.memory)})`);
  const dropped = prompts.train.dropped + prompts.eval.dropped;
  if (dropped && !opts.quiet) console.error(`left out ${dropped} prompts (${prompts.train.dropped} train, ${prompts.eval.dropped} eval) longer than data.max_prompt_tokens or the room the model's context of ${model.config.maxSeqLen} leaves beside rollout.max_tokens`);
  try {
    // a critic with its own lr or steps is a parameter group of its own (ORZ: a separate optimizer)
    const group = plan.critic?.group;
    const groups = group ? [{ name: group, params: (n: string) => n === VALUE_HEAD }] : undefined;
    model.createOptimizer({ beta1: config.optimizer.beta1, beta2: config.optimizer.beta2, eps: config.optimizer.eps, weightDecay: config.optimizer.weight_decay, groups });
    const sampler = makeSampler(config, prompts.train);
    const rng = new Rng(config.seed);
    const log = new MetricsLog(runDir, { tensorboard: [config.training.report_to].flat().includes('tensorboard') });
    log.writeConfig(config);
    const engine = await makeRolloutEngine(config, model, tokenizer, runDir, Math.max(0, ...prompts.train.promptIds.map((p) => p.length)));
    let step = 0, nonfinite = 0, accuracyBefore: number | null = null, toolCallsBefore: number | null = null;
    // without a correctness reward there is no accuracy to report (the evaluation still runs for its samples)
    const correctFn = plan.rewards.find((r) => r.name === correctness)?.fn ?? (() => 0);
    const runEval = async () => (await evaluateModel(model, tokenizer, prompts.eval.examples, {
      maxTokens: config.training.eval_max_tokens ?? config.rollout.max_tokens, promptIds: prompts.eval.promptIds, correct: correctFn, agent: run.agent?.loopFor,
    }));
    const accuracyOf = (r: { report: EvalReport }) => (correctness ? r.report.accuracy : null);
    if (opts.resume) {
      const s = loadCheckpoint(opts.resume, model);
      step = s.step; rng.state = s.rng; sampler.load(s.sampler); nonfinite = s.nonfiniteStreak; accuracyBefore = s.accuracyBefore; toolCallsBefore = s.toolCallsBefore ?? null;
      log.reset(s.step);
      await engine.sync();
    } else {
      log.reset();
      if (prompts.eval.examples.length) {
        const before = await runEval();
        accuracyBefore = accuracyOf(before);
        toolCallsBefore = before.report.tool_calls ?? null;
      }
    }
    const state = (): TrainerState => ({ step, rng: rng.state, sampler: sampler.state(), nonfiniteStreak: nonfinite, accuracyBefore, toolCallsBefore, config });
    const bar = progressBar(config.training.steps, !!opts.quiet);
    bar.start(step);
    const history: MetricRecord[] = [];
    let ran = 0, savedAt = -1, lastSave = performance.now();
    const checkpoint = () => { saveCheckpoint(path.join(runDir, 'checkpoint'), model, tokenizer, state()); savedAt = step; lastSave = performance.now(); };
    const saveDue = () => (config.training.save_every > 0 && step % config.training.save_every === 0) ||
      (config.training.save_minutes > 0 && performance.now() - lastSave >= config.training.save_minutes * 60e3);
    while (step < config.training.steps && (opts.stopAfter === undefined || ran < opts.stopAfter) && !opts.signal?.aborted) {
      const t0 = performance.now();
      const batch = await collectRollouts({ plan, engine, tokenizer, examples: prompts.train.examples, promptIds: prompts.train.promptIds, sampler, rng, agent: run.agent?.loopFor });
      const t1 = performance.now();
      const scored = scoreRollouts(plan, { policy: model, reference: ref, recomputeBehaviour: engine.recomputeLogprobs }, batch);
      const seqs = advantageStage(plan, scored, tokenizer);
      opts.beforeUpdate?.(step + 1, seqs);
      const t2 = performance.now();
      const upd = batch.groups.length ? policyUpdate({ model, plan }, seqs) : null;
      if (upd && upd.steps > 0) await engine.sync();
      const t3 = performance.now();
      nonfinite = upd && upd.skipped > 0 && upd.steps === 0 ? nonfinite + 1 : 0;
      step++; ran++;
      const record = stepMetrics(step, batch, correctness, upd, stepKl(seqs, algorithm, upd), model.optimizer.stepCount, { generate: t1 - t0, prepare: t2 - t1, update: t3 - t2 });
      if (config.training.eval_every > 0 && step % config.training.eval_every === 0 && step < config.training.steps) {
        record.eval_accuracy = accuracyOf(await runEval());
      }
      log.write(record);
      history.push(record);
      opts.onStep?.(record);
      if (config.training.log_completions_every > 0 && (step - 1) % config.training.log_completions_every === 0 && batch.groups.length) {
        const g = batch.groups[0];
        log.writeCompletions({ step, prompt: g[0].example.prompt, answer: g[0].example.answer, completions: g.map((r) => ({ text: r.text, reward: r.reward, rewards: r.rewards, correct: correctness ? isCorrect(r, correctness) : null })) });
      }
      bar.update(step, { reward: fmt(record.reward), acc: fmt(record.accuracy), len: fmt(record.completion_length, 1), kl: fmt(record.kl, 4) });
      if (saveDue()) checkpoint();
      if (nonfinite >= config.training.max_nonfinite_steps) {
        bar.stop();
        throw new GrpoError('numeric', `${nonfinite} steps in a row had non-finite loss or gradients; lower optimizer.lr or check the rewards (the last good checkpoint is in ${runDir}/checkpoint)`);
      }
      // the steps' compute blocks the event loop: let a pending SIGINT / SIGTERM reach its handler
      if (opts.signal) await new Promise((r) => setImmediate(r));
    }
    bar.stop();
    const finished = step >= config.training.steps;
    let accuracyAfter: number | null = null;
    let final: { report: EvalReport; completions: EvalCompletion[] } | null = null;
    if (finished) {
      if (prompts.eval.examples.length) final = await runEval();
      accuracyAfter = final ? accuracyOf(final) : null;
      savePolicy(path.join(runDir, 'final'), model, tokenizer, { baseModel: basePath });
      if (final) log.writeCompletions({ step, eval: final.report, eval_samples: final.completions.slice(0, 8) });
    }
    if (savedAt !== step) checkpoint();
    return {
      accuracyBefore, accuracyAfter, steps: step, runDir, metrics: history, interrupted: !finished && !!opts.signal?.aborted,
      toolCallsBefore, toolCallsAfter: final?.report.tool_calls ?? null,
    };
  } finally {
    run.free();
  }
}

function makeSampler(config: TrainConfig, train: PromptSet): PromptSampler {
  const n = train.examples.length;
  if (config.data.sampler === 'curriculum') return new CurriculumSampler(train.examples.map((e) => e.difficulty ?? 0), { seed: config.seed, rampSteps: config.training.steps });
  if (config.data.sampler === 'prioritized') return new PrioritizedSampler(n, { seed: config.seed });
  return new UniformSampler(n, config.seed);
}

/**
 * KL to the reference, null for a method without one (as TRL logs `kl` only when β ≠ 0). With the penalty in the
 * reward (RLOO, REINFORCE++, PPO as in InstructGPT) the loss has no KL term: the KL of the behaviour policy to the
 * reference, per token with the method's estimator, is what the penalty was made of.
 */
function stepKl(seqs: UpdateSequence[], algorithm: ResolvedAlgorithm, upd: ReturnType<typeof policyUpdate> | null): number | null {
  if (!(algorithm.kl_beta > 0)) return null;
  if (algorithm.kl_placement === 'loss') return upd?.kl ?? null;
  if (!seqs.length || !seqs[0].refLogp) return null;
  let sum = 0, n = 0;
  for (const s of seqs) s.oldLogp.forEach((lp, t) => { if (s.sampledMask?.[t] !== 0) { sum += klEstimate(algorithm.kl_estimator, lp, s.refLogp![t]); n++; } });
  return n ? sum / n : null;
}

function stepMetrics(step: number, batch: RolloutBatch, correctness: string | undefined, upd: ReturnType<typeof policyUpdate> | null, kl: number | null, optimizerStep: number, t: Record<string, number>): MetricRecord {
  const flat = batch.groups.flat();
  const rewards = flat.map((r) => r.reward);
  const lengths = flat.map((r) => r.completionIds.length);
  const names = flat.length ? Object.keys(flat[0].rewards) : [];
  const rec: MetricRecord = {
    step,
    // seconds since the Unix epoch when the step ended (TensorBoard's wall_time)
    wall_time: Date.now() / 1000,
    reward: flat.length ? mean(rewards) : null,
    reward_std: flat.length ? std(rewards) : null,
    accuracy: correctness && flat.length ? flat.filter((r) => isCorrect(r, correctness)).length / flat.length : null,
    completion_length: flat.length ? mean(lengths) : null,
    completion_length_max: flat.length ? Math.max(...lengths) : null,
    truncated_ratio: flat.length ? flat.filter((r) => r.finishReason === 'length').length / flat.length : null,
    frac_reward_zero_std: batch.fracZeroStd,
    // KL to the reference, whether it is penalised in the loss or in the reward
    kl,
    entropy: upd?.entropy ?? null,
    clip_ratio: upd?.clipRatio ?? null,
    loss: upd?.loss ?? null,
    grad_norm: upd?.gradNorm ?? null,
    learning_rate: upd?.lr ?? null,
    optimizer_step: optimizerStep,
    skipped_updates: upd?.skipped ?? 0,
    gen_batches: batch.genBatches,
    dropped_groups: batch.droppedGroups,
    reward_failures: batch.rewardFailures,
    'time/generate_ms': Math.round(t.generate),
    'time/prepare_ms': Math.round(t.prepare),
    'time/update_ms': Math.round(t.update),
    // KiB on Linux and macOS alike (Node normalises ru_maxrss); GB = 1e9 bytes, as the memory plan counts
    'memory/peak_rss_gb': Math.round((process.resourceUsage().maxRSS * 1024) / 1e7) / 100,
  };
  for (const n of names) rec[`rewards/${n}/mean`] = mean(flat.map((r) => r.rewards[n]));
  for (const [k, v] of Object.entries(upd?.policyStats ?? {})) rec[`policy/${k}`] = v;
  for (const [k, v] of Object.entries(upd?.critic ?? {})) rec[`critic/${k}`] = Number.isFinite(v) ? v : null;
  if (flat.some((r) => r.episode)) {
    // multi-turn episodes (TRL logs tools/call_frequency and tools/failure_frequency)
    rec['tools/calls_per_episode'] = mean(flat.map((r) => r.episode?.toolCalls ?? 0));
    rec['tools/failure_frequency'] = mean(flat.map((r) => (r.episode?.toolCalls ? r.episode.toolErrors / r.episode.toolCalls : 0)));
    rec['episode/turns'] = mean(flat.map((r) => r.episode?.turns ?? 1));
  }
  if (batch.beforeFilter) {
    rec['gfpo/sampled_reward'] = batch.beforeFilter.reward;
    rec['gfpo/sampled_completion_length'] = batch.beforeFilter.completionLength;
    rec['gfpo/sampled_frac_reward_zero_std'] = batch.beforeFilter.fracZeroStd;
  }
  return rec;
}

function fmt(x: number | string | null | undefined, digits = 2): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}
