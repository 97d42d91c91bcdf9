/**
 * An RL run between its models being opened and its result: the optimizer, prompt sampler, RNG, metrics log and
 * rollout generator; the state a checkpoint saves (restored on resume); one step through the four stages
 * (rollout → passes → advantages → update) with its metrics, evaluation and checkpoint cadence; and the run's end.
 */
import path from 'node:path';
import { UniformSampler, CurriculumSampler, PrioritizedSampler, type PromptSampler } from '../data/index.ts';
import { VALUE_HEAD } from '../model/llama-weights.ts';
import { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';
import type { TrainConfig } from './config/schema.ts';
import type { RunModels } from './run-models.ts';
import type { RunPlan } from './run-plan.ts';
import type { PromptSet } from './prompts.ts';
import { makeRolloutGenerator, type RolloutGenerator } from './rollout-generator.ts';
import { collectRollouts, type RolloutContext } from './rollout-stage.ts';
import { RolloutQueue } from './rollout-queue.ts';
import { isCorrect, type RolloutBatch } from './rollouts.ts';
import { runPasses } from './pass-stage.ts';
import { advantageStage } from './advantage-stage.ts';
import { policyUpdate } from './update-stage.ts';
import type { UpdateSequence } from './update-sequence.ts';
import { asyncMetrics, stepKl, stepMetrics } from './step-metrics.ts';
import { evaluateModel, type EvalCompletion, type EvalReport } from './evaluate.ts';
import { MetricsLog, type MetricRecord } from './metrics.ts';
import { saveCheckpoint, loadCheckpoint, checkpointRolloutsAhead, type TrainerState } from './checkpoint.ts';
import { restoreBatches, serializeBatches } from './saved-rollouts.ts';
import { savePolicy } from './save-policy.ts';

/** An evaluation; accuracy, pass@k and `correct` are null when no reward of the run decides correctness. */
type Evaluation = {
  report: Omit<EvalReport, 'accuracy' | 'pass_at_k'> & { accuracy: number | null; pass_at_k: number | null };
  completions: (Omit<EvalCompletion, 'correct'> & { correct: boolean | null })[];
};

export interface SessionHooks {
  /** continue from this checkpoint folder */
  resume?: string;
  /** called with the prepared sequences before each policy update */
  beforeUpdate?: (step: number, seqs: UpdateSequence[]) => void;
}

export class TrainSession {
  step = 0;
  /** consecutive steps whose every update was skipped as non-finite */
  nonfinite = 0;
  accuracyBefore: number | null = null;
  toolCallsBefore: number | null = null;
  readonly history: MetricRecord[] = [];
  private savedAt = -1;
  private lastSave = performance.now();
  /** asynchronous rollouts (rollout.max_staleness ≥ 1): the batches generated ahead */
  private queue: RolloutQueue | null = null;

  private constructor(
    readonly config: TrainConfig,
    readonly plan: RunPlan,
    readonly run: RunModels,
    readonly runDir: string,
    readonly generator: RolloutGenerator,
    readonly sampler: PromptSampler,
    readonly rng: Rng,
    readonly log: MetricsLog,
  ) {}

  /** The optimizer (a critic with its own lr or steps is a group of its own, as ORZ's separate optimizer), sampler, log and rollout generator; then the checkpoint's state, or the evaluation before training. */
  static async open(
    config: TrainConfig,
    plan: RunPlan,
    run: RunModels,
    runDir: string,
    hooks: SessionHooks,
  ): Promise<TrainSession> {
    const { model, tokenizer, prompts } = run;
    const o = config.optimizer;
    const group = plan.critic?.group;
    model.createOptimizer({
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weight_decay,
      groups: group ? [{ name: group, params: (n: string) => n === VALUE_HEAD }] : undefined,
    });
    const log = new MetricsLog(runDir, { tensorboard: [config.training.report_to].flat().includes('tensorboard') });
    log.writeConfig(config);
    const generator = await makeRolloutGenerator(
      config,
      model,
      tokenizer,
      runDir,
      Math.max(0, ...prompts.train.promptIds.map((p) => p.length)),
    );
    const session = new TrainSession(
      config,
      plan,
      run,
      runDir,
      generator,
      promptSampler(config, prompts.train),
      new Rng(config.seed),
      log,
    );
    try {
      const restored = await session.restoreOrEvaluate(hooks.resume);
      // rollout servers start from the policy's weights (a server that served an earlier run may hold others), as
      // verl syncs before its first step
      await generator.sync(session.step);
      const depth = config.rollout.max_staleness;
      if (depth > 0 || restored.length)
        session.queue = new RolloutQueue(
          () => collectRollouts(session.rolloutContext()),
          depth,
          config.training.steps - session.step,
          restored,
        );
    } catch (e) {
      await generator.close?.(); // the caller never gets the session to close
      throw e;
    }
    return session;
  }

  /** A checkpoint's state (and the batches it had generated ahead), or the evaluation before training. */
  private async restoreOrEvaluate(resume: string | undefined): Promise<RolloutBatch[]> {
    if (resume) {
      const s = loadCheckpoint(resume, this.run.model);
      this.step = s.step;
      this.rng.state = s.rng;
      this.sampler.load(s.sampler);
      this.nonfinite = s.nonfiniteStreak;
      this.accuracyBefore = s.accuracyBefore;
      this.toolCallsBefore = s.toolCallsBefore ?? null;
      this.log.reset(s.step);
      const ahead = checkpointRolloutsAhead(resume);
      return ahead ? restoreBatches(ahead.json, ahead.file, this.run.prompts.train) : [];
    }
    this.log.reset();
    if (!this.run.prompts.eval.examples.length) return [];
    const before = await this.evaluate();
    this.accuracyBefore = before.report.accuracy;
    this.toolCallsBefore = before.report.tool_calls ?? null;
    return [];
  }

  private rolloutContext(): RolloutContext {
    const { prompts, tokenizer, agent } = this.run;
    return {
      plan: this.plan,
      generator: this.generator,
      tokenizer,
      examples: prompts.train.examples,
      promptIds: prompts.train.promptIds,
      sampler: this.sampler,
      rng: this.rng,
      agent: agent?.loopFor,
    };
  }

  /**
   * The step's batch: generated now, or (asynchronous) ahead; then the batches ahead are started, and their requests
   * sent before the update's compute holds the event loop, so the servers generate while the policy trains.
   */
  private async nextBatch(): Promise<RolloutBatch> {
    if (!this.queue) return collectRollouts(this.rolloutContext());
    const batch = await this.queue.take();
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    return batch;
  }

  /**
   * Greedy evaluation on the held-out prompts. Without a correctness reward there is no accuracy: the report's
   * accuracy and pass@k, and each sample's `correct`, are null (never a 0 that reads as "all wrong").
   */
  async evaluate(): Promise<Evaluation> {
    const { model, tokenizer, prompts, agent } = this.run;
    const correct = this.plan.rewards.find((r) => r.name === this.plan.correctness)?.fn ?? (() => 0);
    const e = await evaluateModel(model, tokenizer, prompts.eval.examples, {
      maxTokens: this.config.training.eval_max_tokens ?? this.config.rollout.max_tokens,
      promptIds: prompts.eval.promptIds,
      correct,
      agent: agent?.loopFor,
    });
    if (this.plan.correctness) return e;
    return {
      report: { ...e.report, accuracy: null, pass_at_k: null },
      completions: e.completions.map((c) => ({ ...c, correct: null })),
    };
  }

  /** One step: the four stages, then its metrics record (logged), the evaluation and sample completions when due. */
  async runStep(hooks: SessionHooks): Promise<MetricRecord> {
    const { plan, run, generator } = this;
    const { model, tokenizer, ref } = run;
    const t0 = performance.now();
    const batch = await this.nextBatch();
    const t1 = performance.now();
    const passes = runPasses(
      plan,
      { policy: model, reference: ref, recomputeBehaviour: generator.recomputeLogprobs },
      batch,
    );
    const seqs = advantageStage(plan, passes, tokenizer);
    hooks.beforeUpdate?.(this.step + 1, seqs);
    const t2 = performance.now();
    const upd = batch.groups.length ? policyUpdate({ model, plan }, seqs) : null;
    const synced = upd && upd.steps > 0 ? await generator.sync(this.step + 1) : { waitMs: 0 };
    const t3 = performance.now();
    this.nonfinite = upd && upd.skipped > 0 && upd.steps === 0 ? this.nonfinite + 1 : 0;
    this.step++;
    const t = this.config.training;
    const record = stepMetrics(
      this.step,
      batch,
      plan.correctness,
      upd,
      stepKl(seqs, plan.algorithm, upd),
      model.optimizer.stepCount,
      { generate: t1 - t0, prepare: t2 - t1, update: t3 - t2 },
    );
    Object.assign(record, generator.stats?.(), asyncMetrics(batch, this.step - 1, t1 - t0 + synced.waitMs));
    if (t.eval_every > 0 && this.step % t.eval_every === 0 && this.step < t.steps)
      record.eval_accuracy = (await this.evaluate()).report.accuracy;
    this.log.write(record);
    this.history.push(record);
    if (t.log_completions_every > 0 && (this.step - 1) % t.log_completions_every === 0 && batch.groups.length) {
      const g = batch.groups[0];
      const correct = (r: (typeof g)[number]) => (plan.correctness ? isCorrect(r, plan.correctness) : null);
      this.log.writeCompletions({
        step: this.step,
        prompt: g[0].example.prompt,
        answer: g[0].example.answer,
        completions: g.map((r) => ({ text: r.text, reward: r.reward, rewards: r.rewards, correct: correct(r) })),
      });
    }
    return record;
  }

  /** A checkpoint every save_every steps or save_minutes minutes; too many non-finite steps in a row end the run. */
  async afterStep(): Promise<void> {
    const t = this.config.training;
    if (
      (t.save_every > 0 && this.step % t.save_every === 0) ||
      (t.save_minutes > 0 && performance.now() - this.lastSave >= t.save_minutes * 60e3)
    )
      await this.checkpoint();
    if (this.nonfinite >= t.max_nonfinite_steps) {
      throw new GrpoError(
        'numeric',
        `${this.nonfinite} steps in a row had non-finite loss or gradients; lower optimizer.lr or check the rewards (the last good checkpoint is in ${this.runDir}/checkpoint)`,
      );
    }
  }

  /** The run's state; an asynchronous run first waits for the batches it generates ahead, and saves them too. */
  async checkpoint(): Promise<void> {
    const ahead = this.queue ? await this.queue.drain() : [];
    const state: TrainerState = {
      step: this.step,
      rng: this.rng.state,
      sampler: this.sampler.state(),
      nonfiniteStreak: this.nonfinite,
      accuracyBefore: this.accuracyBefore,
      toolCallsBefore: this.toolCallsBefore,
      config: this.config,
    };
    saveCheckpoint(
      path.join(this.runDir, 'checkpoint'),
      this.run.model,
      this.run.tokenizer,
      state,
      ahead.length ? serializeBatches(ahead) : undefined,
    );
    this.savedAt = this.step;
    this.lastSave = performance.now();
  }

  /** A finished run: the final evaluation and the policy (or its adapter) saved; any run: a checkpoint of where it stopped. */
  async finish(): Promise<{ finished: boolean; accuracyAfter: number | null; toolCallsAfter: number | null }> {
    const finished = this.step >= this.config.training.steps;
    let final: Evaluation | null = null;
    if (finished) {
      if (this.run.prompts.eval.examples.length) final = await this.evaluate();
      savePolicy(path.join(this.runDir, 'final'), this.run.model, this.run.tokenizer, { baseModel: this.run.basePath });
      if (final)
        this.log.writeCompletions({ step: this.step, eval: final.report, eval_samples: final.completions.slice(0, 8) });
    }
    if (this.savedAt !== this.step) await this.checkpoint();
    return {
      finished,
      accuracyAfter: final ? final.report.accuracy : null,
      toolCallsAfter: final?.report.tool_calls ?? null,
    };
  }
}

function promptSampler(config: TrainConfig, train: PromptSet): PromptSampler {
  const n = train.examples.length;
  if (config.data.sampler === 'curriculum')
    return new CurriculumSampler(
      train.examples.map((e) => e.difficulty ?? 0),
      { seed: config.seed, rampSteps: config.training.steps },
    );
  if (config.data.sampler === 'prioritized') return new PrioritizedSampler(n, { seed: config.seed });
  return new UniformSampler(n, config.seed);
}
