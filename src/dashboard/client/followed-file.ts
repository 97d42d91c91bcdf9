/**
 * A run's JSONL file followed through the dashboard server: each pull fetches only the lines past those held;
 * when the server says the file was rewritten (a new generation: a resumed run trims its lines) it is fetched whole.
 */
interface Lines {
  generation: number;
  rows: Record<string, unknown>[];
  skipped: number;
}

export class FollowedFile {
  generation = -1;
  rows: Record<string, unknown>[] = [];
  /** lines of the file that were not a JSON record (the server leaves them out) */
  skipped = 0;

  constructor(
    private readonly route: 'metrics' | 'completions',
    readonly run: string,
  ) {}

  /** true when rows changed */
  async pull(): Promise<boolean> {
    const r = await this.fetch(this.generation < 0 ? 0 : this.rows.length);
    const newlySkipped = r.skipped !== this.skipped;
    this.skipped = r.skipped;
    if (r.generation !== this.generation) {
      const whole = this.generation < 0 ? r : await this.fetch(0);
      this.generation = whole.generation;
      this.rows = whole.rows;
      return true;
    }
    this.rows.push(...r.rows);
    return r.rows.length > 0 || newlySkipped;
  }

  private async fetch(from: number): Promise<Lines> {
    const r = await fetch(`api/${this.route}?${new URLSearchParams({ run: this.run, from: String(from) })}`);
    if (!r.ok) throw new Error(`${this.route} of ${this.run}: HTTP ${r.status}`);
    return r.json() as Promise<Lines>;
  }
}
