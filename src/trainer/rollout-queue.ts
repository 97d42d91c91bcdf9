/**
 * Asynchronous rollouts (`rollout.max_staleness: k` ≥ 1): the batches of the next k steps are generated on the
 * rollout servers while the current one trains, as verl's one-step-off-policy trainer (k = 1) and AReaL's
 * staleness-bounded rollouts do. A batch is started when the step k before its own takes its batch, so it is sampled
 * at most k policy versions behind the policy that trains on it.
 *
 * Batches are generated one after another (never two at once), so the prompt sampler and the RNG see the same
 * sequence of calls as in a synchronous run, whatever the timing; with k = 1 each batch also starts at a fixed point
 * (its step's predecessor taking its batch), so a run is as reproducible as the servers' sampling.
 */
import type { RolloutBatch } from './rollouts.ts';

export class RolloutQueue {
  /** batches started ahead of the steps that will train on them, in order */
  private readonly ahead: Promise<RolloutBatch>[];
  /** the batch generated last: the next starts after it */
  private tail: Promise<unknown> = Promise.resolve();
  /** batches the run still needs that have not been started */
  private left: number;

  constructor(
    private readonly generate: () => Promise<RolloutBatch>,
    /** rollout.max_staleness */
    private readonly depth: number,
    /** batches the run still needs (its remaining steps) */
    remaining: number,
    /** batches a checkpoint saved (generated ahead before the run was stopped), trained on first */
    restored: RolloutBatch[] = [],
  ) {
    this.ahead = restored.map((b) => Promise.resolve(b));
    this.left = remaining - restored.length;
  }

  /** The next step's batch (generated ahead, or now); the batches of the next `depth` steps are started. */
  take(): Promise<RolloutBatch> {
    const next = this.ahead.shift() ?? this.start();
    while (this.ahead.length < this.depth && this.left > 0) this.ahead.push(this.start());
    return next;
  }

  /** The batches generated ahead, once all are done: a checkpoint saves them, so a resumed run trains on them. */
  drain(): Promise<RolloutBatch[]> {
    return Promise.all(this.ahead);
  }

  private start(): Promise<RolloutBatch> {
    this.left--;
    const batch = this.tail.then(() => this.generate());
    // a failed batch fails the step that takes it; the handler also keeps it from being an unhandled rejection
    this.tail = batch.catch(() => {});
    return batch;
  }
}
