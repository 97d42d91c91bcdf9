/**
 * Runs jobs one at a time, in arrival order. Decoding on the embedded model is synchronous and it is one model, so
 * requests wait here for their turn; between jobs the event loop gets a turn (setImmediate), so finished
 * responses are flushed and new requests are read while the queue is busy.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** jobs queued or running */
  get size(): number {
    return this.waiting;
  }

  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(job);
    this.tail = result.then(
      () => {
        this.waiting--;
      },
      () => {
        this.waiting--;
      },
    );
    return result;
  }

  /** resolves once every job queued so far has finished */
  idle(): Promise<void> {
    return this.tail;
  }
}
