/**
 * Batching across concurrent requests: completion requests wait here, and each turn of the request queue decodes
 * the oldest together with every waiting request that can share its batch (the same model and settings but the
 * seed: ServedModel.batchKey), up to MAX_SEQUENCES_PER_BATCH sequences. A trainer's or an evaluator's concurrent
 * requests — one per prompt, as vLLM clients send them — are then decoded together rather than one after another.
 * Requests join between batches, not inside a running one, and never across a weight or adapter change queued
 * between them (barrier()).
 */
import type { SerialQueue } from './serial-queue.ts';
import { batchKey, type EngineRequest, type LiveOptions, type ServedChoice, type ServedModel } from './served-model.ts';
import { ServeError } from './serve-error.ts';

/** completions decoded together at most (prompts × n, over the requests of a batch): bounds the KV cache */
export const MAX_SEQUENCES_PER_BATCH = 256;

interface Waiting {
  prompts: number[][];
  r: EngineRequest;
  model: string | null;
  live: LiveOptions;
  key: string;
  /** barriers passed before it was submitted: a batch never takes a request across one */
  epoch: number;
  resolve: (choices: ServedChoice[] | null) => void;
  reject: (e: unknown) => void;
}

export class RequestBatcher {
  private readonly waiting: Waiting[] = [];
  private epoch = 0;

  constructor(private readonly queue: SerialQueue, private readonly served: ServedModel, private readonly closing: () => boolean) {}

  /** The request's choices (null when its signal aborted first), decoded in a batch with whatever can join it. */
  submit(prompts: number[][], r: EngineRequest, model: string | null, live: LiveOptions = {}): Promise<ServedChoice[] | null> {
    const m = model === this.served.name ? null : model; // the model's own name is the base, as null is
    return new Promise((resolve, reject) => {
      this.waiting.push({ prompts, r, model: m, live, key: batchKey(r, m), epoch: this.epoch, resolve, reject });
      // one queue turn per request; a turn whose request already went out with an earlier batch finds nothing to do
      this.queue.run(() => this.runNext()).catch(() => {});
    });
  }

  /**
   * Call before queueing a job that changes the model (weights, adapters): requests submitted after it are not
   * pulled into a batch that runs before it.
   */
  barrier(): void {
    this.epoch++;
  }

  private async runNext(): Promise<void> {
    const first = this.waiting.shift();
    if (!first) return;
    const batch = [first];
    let sequences = first.prompts.length * first.r.n;
    for (let i = 0; i < this.waiting.length;) {
      const w = this.waiting[i];
      const size = w.prompts.length * w.r.n;
      if (w.key === first.key && w.epoch === first.epoch && sequences + size <= MAX_SEQUENCES_PER_BATCH) {
        batch.push(w);
        sequences += size;
        this.waiting.splice(i, 1);
      } else i++;
    }
    if (this.closing()) {
      for (const w of batch) w.reject(new ServeError('unavailable', 'the server is shutting down'));
      return;
    }
    const live = batch.filter((w) => !w.live.signal?.aborted);
    for (const w of batch) if (w.live.signal?.aborted) w.resolve(null); // nobody is waiting for this answer
    if (live.length === 0) return;
    try {
      const results = await this.served.runBatch(live.map((w) => ({ prompts: w.prompts, r: w.r, live: w.live })), first.model);
      live.forEach((w, k) => w.resolve(results[k]));
    } catch (e) {
      for (const w of live) w.reject(e);
    }
  }
}
