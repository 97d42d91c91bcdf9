/**
 * Prometheus' text exposition format (prometheus.io/docs/instrumenting/exposition_formats), as the Python client
 * writes it: `# HELP` and `# TYPE` lines per family, then one sample per label set; a counter's family is named with
 * its `_total` suffix, a histogram has cumulative `_bucket{le=…}` samples ending at "+Inf", then `_sum` and `_count`.
 */

export type Labels = Record<string, string>;

/** `{a="x",b="y"}`, values escaped as the format asks (backslash, double quote, newline) */
function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`,
  );
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function header(name: string, type: string, help: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

/** A value as the format writes it: +Inf for an infinite bound. */
function num(v: number): string {
  return v === Infinity ? '+Inf' : String(v);
}

/** A gauge read when scraped: one value per label set. */
export function gaugeText(name: string, help: string, samples: [Labels, number][]): string {
  return header(name, 'gauge', help) + samples.map(([l, v]) => `${name}${labelText(l)} ${num(v)}\n`).join('');
}

/** A monotonic count per label set. `name` is the family's name without `_total`. */
export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** label sets shown (at 0) before anything was counted, as vLLM pre-creates its finished_reason series */
    initial: Labels[] = [],
  ) {
    for (const l of initial) this.inc(l, 0);
  }

  inc(labels: Labels, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  text(): string {
    const name = `${this.name}_total`;
    return (
      header(name, 'counter', this.help) +
      [...this.values.values()].map((e) => `${name}${labelText(e.labels)} ${num(e.value)}\n`).join('')
    );
  }
}

/** Observations counted into fixed buckets (upper bounds, ascending), for one label set. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    private readonly labels: Labels,
  ) {
    this.counts = buckets.map(() => 0);
  }

  /** `times` observations of `value` (a request's value, once per sequence it holds) */
  observe(value: number, times = 1): void {
    this.buckets.forEach((le, i) => {
      if (value <= le) this.counts[i] += times;
    });
    this.sum += value * times;
    this.count += times;
  }

  text(): string {
    const bucketLines = [...this.buckets, Infinity].map((le, i) => {
      const n = i < this.counts.length ? this.counts[i] : this.count;
      return `${this.name}_bucket${labelText({ ...this.labels, le: num(le) })} ${n}\n`;
    });
    const l = labelText(this.labels);
    return (
      header(this.name, 'histogram', this.help) +
      bucketLines.join('') +
      `${this.name}_sum${l} ${num(this.sum)}\n${this.name}_count${l} ${this.count}\n`
    );
  }
}
