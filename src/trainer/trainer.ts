/**
 * `train(config)`: the RL loop. It resolves the run's plan (run-plan.ts), opens its models, and runs steps — each
 * rollouts → passes → advantages → policy update (train-session.ts) — until the last step, a signal or
 * `stopAfter`, then evaluates and saves. Orchestrates; the maths lives in src/algorithms.
 */
import path from 'node:path';
import { openRunModels } from './run-models.ts';
import { describePlan } from './memory-plan.ts';
import type { RewardSpec } from '../rewards/index.ts';
import type { TrainConfig } from './config/schema.ts';
import type { EmbeddedTasks } from '../data/index.ts';
import type { UpdateSequence } from './update-sequence.ts';
import { resolveRunPlan } from './run-plan.ts';
import { progressBar, type MetricRecord } from './metrics.ts';
import { claimRunFolder } from './run-folder.ts';
import { TrainSession } from './train-session.ts';
import type { AgentOptions } from './agent-setup.ts';

export interface TrainOptions extends AgentOptions {
  /** reward functions to use instead of the config's `rewards` list (library use, tests) */
  rewards?: RewardSpec[];
  /** the reward whose value ≥ 1 means correct (default: the first math / countdown / code reward) */
  correctness?: string;
  /** embedded tasks `embedded:<name>` may name besides the built-in ones (embeddedTaskSplits), or replacing one by name */
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
  const runDir = path.join(config.out_dir, config.name);
  claimRunFolder(runDir, { resume: !!opts.resume, overwrite: config.overwrite });
  const run = await openRunModels(config, plan, opts);
  const { prompts } = run;
  if (!opts.quiet) {
    console.error(`memory plan: about ${(run.memory.total / 1e9).toFixed(1)} GB (${describePlan(run.memory)})`);
    const dropped = prompts.train.dropped + prompts.eval.dropped;
    if (dropped)
      console.error(
        `left out ${dropped} prompts (${prompts.train.dropped} train, ${prompts.eval.dropped} eval) longer than data.max_prompt_tokens or the room the model's context of ${run.model.config.maxSeqLen} leaves beside rollout.max_tokens`,
      );
  }
  let session: TrainSession | undefined;
  try {
    session = await TrainSession.open(config, plan, run, runDir, opts);
    const bar = progressBar(config.training.steps, !!opts.quiet);
    bar.start(session.step);
    for (
      let ran = 0;
      session.step < config.training.steps &&
      (opts.stopAfter === undefined || ran < opts.stopAfter) &&
      !opts.signal?.aborted;
      ran++
    ) {
      const record = await session.runStep(opts);
      opts.onStep?.(record);
      bar.update(session.step, {
        reward: fmt(record.reward),
        acc: fmt(record.accuracy),
        len: fmt(record.completion_length, 1),
        kl: fmt(record.kl, 4),
      });
      try {
        await session.afterStep();
      } catch (e) {
        bar.stop();
        throw e;
      }
      // the steps' compute blocks the event loop: let a pending SIGINT / SIGTERM reach its handler
      if (opts.signal) await new Promise((r) => setImmediate(r));
    }
    bar.stop();
    const end = await session.finish();
    return {
      accuracyBefore: session.accuracyBefore,
      accuracyAfter: end.accuracyAfter,
      steps: session.step,
      runDir,
      metrics: session.history,
      interrupted: !end.finished && !!opts.signal?.aborted,
      toolCallsBefore: session.toolCallsBefore,
      toolCallsAfter: end.toolCallsAfter,
    };
  } finally {
    // local rollout servers end with the run, however it ends
    await session?.generator.close?.();
    run.free();
  }
}

function fmt(x: number | string | null | undefined, digits = 2): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}
