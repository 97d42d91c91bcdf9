/**
 * Continuous batching across concurrent requests (vLLM's scheduler, on the embedded model): one decoding loop
 * runs while there is work, and before every step the waiting requests join the running batch — whatever their
 * sampling settings — so a short chat request sent during a long generation is answered at once rather than
 * after it. Each sequence leaves the batch the step it ends; a request whose client went away is cancelled and
 * frees its slots.
 *
 * Requests join in arrival order. One that cannot join — another LoRA adapter than the batch's, or one sent
 * after a weight or adapter change was queued (barrier()) — stops the joining: the loop drains, the queued
 * change runs, and a new loop starts with it. At most MAX_RUNNING_SEQUENCES decode at once; the rest wait.
 * What it does is recorded in the server's metrics (serve-metrics.ts) as it happens.
 */
import type { SerialQueue } from './serial-queue.ts';
import type { ServedModel } from './served-model.ts';
import type { ServedChoice } from './served-choices.ts';
import type { ServedRequest } from './request-schema.ts';
import type { SequenceDecoder } from '../rollout/sequence-decoder.ts';
import type { DecodeRequest } from '../rollout/decode-request.ts';
import { ServeError } from './serve-error.ts';
import type { SchedulerLoad, ServeMetrics } from './serve-metrics.ts';

/** sequences (prompts × n, over all requests) decoding at once at most: bounds the KV cache */
export const MAX_RUNNING_SEQUENCES = 256;

export interface LiveOptions {
  /** stops the generation at the next step (a client that went away) */
  signal?: AbortSignal;
  /** after every step: each unfinished choice so far, and how many of its pieces are final */
  onStep?: (running: { choice: ServedChoice; final: number }[]) => void;
  /** when the request arrived (performance.now(); default: when it is submitted), for its latencies */
  arrivedAt?: number;
}

interface Waiting {
  prompts: number[][];
  /** its sampling settings */
  request: ServedRequest;
  model: string | null;
  live: LiveOptions;
  /** barriers passed before it was submitted: a batch never takes a request across one */
  epoch: number;
  arrivedAt: number;
  resolve: (choices: ServedChoice[] | null) => void;
  reject: (e: unknown) => void;
}

interface Running {
  w: Waiting;
  decoding: DecodeRequest;
  /** whether its first token was sampled */
  started: boolean;
}

/** sequences a request decodes: prompts × n */
const sequencesOf = (w: Waiting) => w.prompts.length * w.request.n;

export class ContinuousBatcher {
  private readonly waiting: Waiting[] = [];
  /** the running batch's requests */
  private running: Running[] = [];
  private epoch = 0;

  constructor(
    private readonly queue: SerialQueue,
    private readonly served: ServedModel,
    private readonly closing: () => boolean,
    private readonly metrics: ServeMetrics | null = null,
    private readonly maxSequences = MAX_RUNNING_SEQUENCES,
  ) {}

  /** sequences decoding now, and sequences waiting to join a batch */
  get load(): SchedulerLoad {
    return {
      running: this.running.reduce((a, x) => a + x.decoding.running, 0),
      waiting: this.waiting.reduce((a, w) => a + sequencesOf(w), 0),
    };
  }

  /** The request's choices (null when its signal aborted first), decoded in the running batch. */
  submit(
    prompts: number[][],
    r: ServedRequest,
    model: string | null,
    live: LiveOptions = {},
  ): Promise<ServedChoice[] | null> {
    const m = model === this.served.name ? null : model; // the model's own name is the base, as null is
    return new Promise((resolve, reject) => {
      const arrivedAt = live.arrivedAt ?? performance.now();
      this.waiting.push({ prompts, request: r, model: m, live, epoch: this.epoch, arrivedAt, resolve, reject });
      // one queue turn per request; a turn that finds its request already taken by a running loop does nothing
      this.queue.run(() => this.loop()).catch(() => {});
    });
  }

  /**
   * Call before queueing a job that changes the model (weights, adapters): requests submitted after it do not
   * join a batch that runs before it.
   */
  barrier(): void {
    this.epoch++;
  }

  private async loop(): Promise<void> {
    const head = this.waiting[0];
    if (!head) return;
    const { model, epoch } = head;
    let decoder: SequenceDecoder;
    try {
      decoder = this.served.decoder(model, this.maxSequences);
    } catch (e) {
      // e.g. an adapter unloaded while the request waited: the request fails, the others go on
      this.waiting.shift();
      head.reject(e);
      return;
    }
    try {
      for (;;) {
        if (this.closing()) {
          const err = new ServeError('unavailable', 'the server is shutting down');
          for (const w of [...this.running.map((x) => x.w), ...this.waiting.splice(0)]) w.reject(err);
          return;
        }
        this.join(decoder, model, epoch);
        if (this.running.length === 0) return;
        decoder.step();
        this.running = this.running.filter((x) => this.stillRunning(decoder, model, x));
        // one step per event-loop turn: other routes are answered, streams flushed, new requests read
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      for (const { w } of this.running) w.reject(e);
    } finally {
      this.running = [];
      decoder.free();
    }
  }

  /** Waiting requests join the batch in arrival order while the next one fits it (its model, its epoch, room). */
  private join(decoder: SequenceDecoder, model: string | null, epoch: number): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0];
      if (w.model !== model || w.epoch !== epoch) break;
      // (alone, a request too large for any batch gets the decoder's error)
      if (!decoder.idle && !decoder.fits(sequencesOf(w))) break;
      this.waiting.shift();
      if (w.live.signal?.aborted) {
        // nobody is waiting for this answer
        this.metrics?.aborted(sequencesOf(w));
        w.resolve(null);
        continue;
      }
      try {
        this.running.push({ w, decoding: this.served.add(decoder, w.prompts, w.request), started: false });
      } catch (e) {
        w.reject(e);
      }
    }
  }

  /**
   * After a step, whether a request goes on decoding: a finished one is answered, one whose client went away is
   * cancelled; the others report their progress.
   */
  private stillRunning(decoder: SequenceDecoder, model: string | null, x: Running): boolean {
    const { w, decoding } = x;
    const seconds = (performance.now() - w.arrivedAt) / 1000;
    if (w.live.signal?.aborted) {
      decoder.cancel(decoding);
      this.metrics?.aborted(sequencesOf(w));
      w.resolve(null);
      return false;
    }
    // the step after a request joined sampled its first token (its prompt was computed in it)
    if (!x.started) this.metrics?.firstToken(sequencesOf(w), seconds);
    x.started = true;
    if (decoding.finished) {
      try {
        const choices = this.served.choices(w.prompts, decoding.completions, w.request, model);
        this.metrics?.finished(
          w.prompts.reduce((a, p) => a + p.length, 0),
          choices,
          seconds,
        );
        w.resolve(choices);
      } catch (e) {
        w.reject(e);
      }
      return false;
    }
    if (w.live.onStep) w.live.onStep(this.served.runningChoices(w.prompts, decoding.completions, w.request, model));
    return true;
  }
}
