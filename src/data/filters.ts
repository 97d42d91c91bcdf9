/** Dataset hygiene: de-duplication, length filtering, held-out splits. */
import type { Example } from './presets.ts';
import { Rng } from '../util/rng.ts';
import { shuffled } from './random.ts';
import { GrpoError } from '../errors.ts';

/** The de-duplication key of a prompt: case, whitespace and LaTeX $ delimiters do not make it new. */
export function promptKey(prompt: string): string {
  return prompt.toLowerCase().replace(/\$/g, '').replace(/\s+/g, ' ').trim();
}

/** Keeps the first example of each key (default: the normalised prompt). */
export function dedupe<T extends Example>(
  examples: readonly T[],
  key: (e: T) => string = (e) => promptKey(e.prompt),
): T[] {
  const seen = new Set<string>();
  return examples.filter((e) => {
    const k = key(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface LengthFilterOptions<T> {
  /** Longest allowed, in the units of `count`. */
  maxLength: number;
  /** Shortest allowed. Default 1. */
  minLength?: number;
  /** Length of a text, e.g. tokenizer.encode(t).length. Default: characters. */
  count?: (text: string) => number;
  /** What is measured. Default: the prompt (after your template, if you pass one here). */
  text?: (e: T) => string;
}

/** Keeps examples whose measured length is within [minLength, maxLength]. */
export function filterByLength<T extends Example>(examples: readonly T[], opts: LengthFilterOptions<T>): T[] {
  const count = opts.count ?? ((t: string) => t.length);
  const measure = opts.text ?? ((e: T) => e.prompt);
  const min = opts.minLength ?? 1;
  return examples.filter((e) => {
    const n = count(measure(e));
    return n >= min && n <= opts.maxLength;
  });
}

export interface SplitOptions {
  /** Held-out size: a count (≥ 1) or a fraction of the data (< 1). */
  size: number;
  seed: number;
}

/**
 * Splits off a held-out set chosen at random from `seed`. Both parts keep the original order, and
 * the same seed and data always give the same split.
 */
export function heldOutSplit<T>(examples: readonly T[], opts: SplitOptions): { train: T[]; heldOut: T[] } {
  const n = examples.length;
  if (n === 0) throw new GrpoError('data', 'the dataset is empty: there is nothing to hold out or train on');
  const size = opts.size < 1 ? Math.round(opts.size * n) : opts.size;
  if (!(size >= 0 && size <= n && Number.isInteger(size))) {
    throw new GrpoError(
      'data',
      `held-out size ${opts.size} does not fit ${n} examples; use a fraction in [0, 1) or a whole count up to ${n}`,
    );
  }
  const chosen = new Set(shuffled([...Array(n).keys()], new Rng(opts.seed)).slice(0, size));
  return { train: examples.filter((_, i) => !chosen.has(i)), heldOut: examples.filter((_, i) => chosen.has(i)) };
}
