/**
 * The pre-pass that drops prompts carrying no learning signal: with group-relative advantages a prompt
 * that every sample solves, or none does, has zero advantage for all its samples (DAPO dynamic
 * sampling, docs/methods/dapo.md; Kimi k1.5 and Skywork-OR1 filter such prompts offline the same way).
 */
import pLimit from 'p-limit';
import { GrpoError } from '../errors.ts';

export interface PassRateFilterOptions {
  /** Drop prompts with pass rate 1. Default true. */
  dropAllSolved?: boolean;
  /** Drop prompts with pass rate 0. Default true. */
  dropNoneSolved?: boolean;
}

/** Splits examples by their pass rates (one per example, in [0, 1]). */
export function filterByPassRate<T>(
  examples: readonly T[],
  passRates: readonly number[],
  opts: PassRateFilterOptions = {},
): { kept: T[]; dropped: T[] } {
  if (examples.length !== passRates.length)
    throw new GrpoError('data', `pass-rate filter: ${examples.length} examples but ${passRates.length} pass rates`);
  const dropAll = opts.dropAllSolved ?? true;
  const dropNone = opts.dropNoneSolved ?? true;
  const kept: T[] = [];
  const dropped: T[] = [];
  examples.forEach((e, i) => {
    const r = passRates[i];
    ((dropAll && r >= 1) || (dropNone && r <= 0) ? dropped : kept).push(e);
  });
  return { kept, dropped };
}

export interface PrefilterOptions extends PassRateFilterOptions {
  /** Prompts attempted at once. Default 4. */
  concurrency?: number;
  /** A numeric attempt result counts as solved at or above this. Default 1. */
  correctThreshold?: number;
}

/**
 * Runs `attempt` (sample k completions and grade them; boolean or reward per completion) on every
 * example, then drops the all-solved and none-solved ones.
 */
export async function prefilterBySolveRate<T>(
  examples: readonly T[],
  attempt: (example: T, index: number) => Promise<readonly (boolean | number)[]>,
  opts: PrefilterOptions = {},
): Promise<{ kept: T[]; dropped: T[]; passRates: number[] }> {
  const limit = pLimit(opts.concurrency ?? 4);
  const threshold = opts.correctThreshold ?? 1;
  const passRates = await Promise.all(
    examples.map((e, i) =>
      limit(async () => {
        const outcomes = await attempt(e, i);
        if (outcomes.length === 0)
          throw new GrpoError('data', `prefilter: attempt returned no outcomes for example ${i}`);
        return outcomes.filter((o) => (typeof o === 'number' ? o >= threshold : o)).length / outcomes.length;
      }),
    ),
  );
  return { ...filterByPassRate(examples, passRates, opts), passRates };
}
