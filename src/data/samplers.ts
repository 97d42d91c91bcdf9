/**
 * Prompt samplers: which dataset indices make the next batch. All are seeded and checkpointable
 * (`state()` / `load()`); indices within one batch are distinct whenever the pool is large enough.
 */
import { Rng } from '../util/rng.ts';
import { shuffled } from './random.ts';
import { GrpoError } from '../errors.ts';

export interface PromptSampler {
  next(batchSize: number): number[];
  /** Outcomes of the last batches: per index, the share of its completions that were correct. */
  update(indices: readonly number[], passRates: readonly number[]): void;
  state(): PromptSamplerState;
  load(state: PromptSamplerState): void;
}

export type PromptSamplerState = Record<string, unknown>;

function checkSize(n: number, what: string): void {
  if (!(Number.isInteger(n) && n > 0))
    throw new GrpoError('data', `${what}: need a positive number of examples (got ${n})`);
}

function checkBatch(b: number): void {
  if (!(Number.isInteger(b) && b > 0))
    throw new GrpoError('data', `sampler: batch size must be a positive integer (got ${b})`);
}

/** Without replacement within an epoch; a new permutation every epoch (like torch's RandomSampler). */
export class UniformSampler implements PromptSampler {
  private random: Rng;
  private order: number[] = [];
  private cursor = 0;

  constructor(
    private readonly size: number,
    seed: number,
  ) {
    checkSize(size, 'uniform sampler');
    this.random = new Rng(seed);
  }

  next(batchSize: number): number[] {
    checkBatch(batchSize);
    const out: number[] = [];
    while (out.length < batchSize) {
      if (this.cursor >= this.order.length) {
        this.order = shuffled([...Array(this.size).keys()], this.random);
        this.cursor = 0;
      }
      out.push(this.order[this.cursor++]);
    }
    return out;
  }
  update(): void {}
  state(): PromptSamplerState {
    return { random: this.random.state, order: [...this.order], cursor: this.cursor };
  }
  load(s: PromptSamplerState): void {
    this.random.state = s.random as number;
    this.order = [...(s.order as number[])];
    this.cursor = s.cursor as number;
  }
}

/** Draws `k` values from `pool`, distinct until the pool is used up (partial Fisher–Yates per round). */
function drawDistinct(pool: readonly number[], k: number, random: Rng): number[] {
  const out: number[] = [];
  while (out.length < k) {
    const copy = [...pool];
    const take = Math.min(k - out.length, copy.length);
    for (let i = 0; i < take; i++) {
      const j = i + random.int(copy.length - i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
      out.push(copy[i]);
    }
  }
  return out;
}

export interface CurriculumOptions {
  seed: number;
  /** Share of the easiest examples available at step 0. Default 0.25. */
  startFraction?: number;
  /** Steps (calls to next) until the whole dataset is available. */
  rampSteps: number;
}

/**
 * Curriculum by difficulty: examples sorted easy → hard; batch t is drawn uniformly from the easiest
 * fraction f(t) = start + (1 − start)·t/rampSteps of the data (linear pacing, capped at 1).
 */
export class CurriculumSampler implements PromptSampler {
  private readonly byDifficulty: number[];
  private readonly random: Rng;
  private step = 0;

  constructor(
    difficulties: readonly number[],
    private readonly opts: CurriculumOptions,
  ) {
    checkSize(difficulties.length, 'curriculum sampler');
    const bad = difficulties.findIndex((d) => !Number.isFinite(d));
    if (bad >= 0)
      throw new GrpoError(
        'data',
        `curriculum sampler: example ${bad} has no numeric difficulty; map a 'difficulty' field or use another sampler`,
      );
    if (!(opts.rampSteps > 0))
      throw new GrpoError('data', `curriculum sampler: rampSteps must be positive (got ${opts.rampSteps})`);
    this.byDifficulty = [...difficulties.keys()].sort((a, b) => difficulties[a] - difficulties[b] || a - b);
    this.random = new Rng(opts.seed);
  }

  /** Number of examples available at the current step. */
  poolSize(): number {
    const start = this.opts.startFraction ?? 0.25;
    const fraction = Math.min(1, start + ((1 - start) * this.step) / this.opts.rampSteps);
    return Math.max(1, Math.ceil(fraction * this.byDifficulty.length));
  }

  next(batchSize: number): number[] {
    checkBatch(batchSize);
    const pool = this.byDifficulty.slice(0, Math.max(this.poolSize(), Math.min(batchSize, this.byDifficulty.length)));
    this.step++;
    return drawDistinct(pool, batchSize, this.random);
  }
  update(): void {}
  state(): PromptSamplerState {
    return { random: this.random.state, step: this.step };
  }
  load(s: PromptSamplerState): void {
    this.random.state = s.random as number;
    this.step = s.step as number;
  }
}

export interface PrioritizedOptions {
  seed: number;
  /** Success rate assumed for a problem never tried. Default 0 (untried problems get full weight). */
  prior?: number;
  /** Weight floor so solved problems can come back; Kimi k1.5 uses plain 1 − s. Default 0. */
  minWeight?: number;
  /** s ← smoothing·s + (1 − smoothing)·new rate. Default 0 (keep the latest rate). */
  smoothing?: number;
}

/**
 * Kimi k1.5 prioritised sampling (§2.3.4): track each problem's success rate s_i and sample problems
 * with probability ∝ 1 − s_i. A batch is drawn without replacement with Efraimidis–Spirakis keys
 * u^(1/w); when fewer problems than the batch have weight, the rest are drawn uniformly.
 */
export class PrioritizedSampler implements PromptSampler {
  private readonly successRates: Float64Array;
  private readonly random: Rng;

  constructor(
    size: number,
    private readonly opts: PrioritizedOptions,
  ) {
    checkSize(size, 'prioritised sampler');
    this.successRates = new Float64Array(size).fill(opts.prior ?? 0);
    this.random = new Rng(opts.seed);
  }

  weight(index: number): number {
    return Math.max(this.opts.minWeight ?? 0, 1 - this.successRates[index]);
  }

  next(batchSize: number): number[] {
    checkBatch(batchSize);
    const n = this.successRates.length;
    const keyed: { index: number; key: number }[] = [];
    const zero: number[] = [];
    for (let i = 0; i < n; i++) {
      const u = this.random.next();
      const w = this.weight(i);
      if (w > 0) keyed.push({ index: i, key: Math.log(u || Number.MIN_VALUE) / w });
      else zero.push(i);
    }
    keyed.sort((a, b) => b.key - a.key || a.index - b.index);
    const out = keyed.slice(0, batchSize).map((k) => k.index);
    if (out.length < batchSize)
      out.push(...drawDistinct(zero.length ? zero : out, batchSize - out.length, this.random));
    return out;
  }

  update(indices: readonly number[], passRates: readonly number[]): void {
    if (indices.length !== passRates.length)
      throw new GrpoError('data', `prioritised sampler: ${indices.length} indices but ${passRates.length} pass rates`);
    const a = this.opts.smoothing ?? 0;
    indices.forEach((i, k) => {
      const r = passRates[k];
      if (!(r >= 0 && r <= 1))
        throw new GrpoError('data', `prioritised sampler: pass rate ${r} for example ${i} is outside [0, 1]`);
      this.successRates[i] = a * this.successRates[i] + (1 - a) * r;
    });
  }

  state(): PromptSamplerState {
    return { random: this.random.state, successRates: Array.from(this.successRates) };
  }
  load(s: PromptSamplerState): void {
    this.random.state = s.random as number;
    this.successRates.set(s.successRates as number[]);
  }
}
