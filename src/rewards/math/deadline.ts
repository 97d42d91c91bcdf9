/**
 * One time budget for a whole grading call (extraction, normalisation, every comparison), so no input —
 * a 4,000-item set, a long chain of CAS checks, a 100k-character answer — can hold up a training step.
 * Code that loops over pieces of an answer calls `check()`; the grader turns DeadlineExceeded into "not equal".
 */
export class DeadlineExceeded extends Error {
  constructor() {
    super('math grading deadline exceeded');
    this.name = 'DeadlineExceeded';
  }
}

export class Deadline {
  private readonly end: number;
  constructor(readonly budgetMs: number) {
    this.end = Date.now() + budgetMs;
  }
  remainingMs(): number {
    return Math.max(0, this.end - Date.now());
  }
  /** Throws DeadlineExceeded once the budget is spent. */
  check(): void {
    if (Date.now() >= this.end) throw new DeadlineExceeded();
  }
}
