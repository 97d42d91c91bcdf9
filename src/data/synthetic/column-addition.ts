/**
 * Column addition with a short chain of thought, in the R1 format (DeepSeek-R1 §2.2.1):
 *
 *   prompt      37+48=
 *   completion  <think>7+8=15,3+4+1=8</think><answer>85</answer>
 *
 * The reasoning adds one column per step, ones first, as written addition is taught: "digit+digit(+1 carry)=sum".
 * Digits missing from the shorter operand are written as 0. The answer is the last column's sum followed by
 * the ones digit of every earlier column, last to first, so every answer digit can be read from the reasoning.
 *
 * Why this task: exact-answer grading, a reasoning trace that is short (≈ 30 characters for 3 digits) and
 * checkable step by step, difficulty set by the digit count, and 10^(2·digits) distinct problems, so held-out
 * accuracy measures the procedure, not memory. Held-out problems are a fixed 10% of all (a, b) pairs chosen
 * by a hash, so no training draw, whatever its seed, ever contains one.
 */
import { Rng } from '../../util/rng.ts';
import { GrpoError } from '../../errors.ts';
import type { Example } from '../presets.ts';

export interface AdditionProblem extends Example {
  a: number;
  b: number;
  /** "37+48=" */
  prompt: string;
  /** "<think>…</think><answer>85</answer>" (without an end-of-sequence token) */
  completion: string;
  /** "85" */
  answer: string;
}

export interface AdditionOptions {
  /** operands are drawn uniformly from [0, 10^digits) (default 3) */
  digits?: number;
  /**
   * A sloppy teacher: the probability that the reference completion forgets a due carry (writes "3+4=7" where
   * "3+4+1=8" is right), independently per carry. The trace stays self-consistent (its answer follows from the
   * wrong steps) while `answer` stays the true sum. Default 0.
   */
  carrySlipRate?: number;
}

const MAX_DIGITS = 7;

/**
 * The reasoning steps of a + b, ones column first: ["7+8=15", "3+4+1=8"]. `slip(column)` returning true makes
 * that column forget its incoming carry (a sloppy teacher).
 */
export function columnSteps(a: number, b: number, slip?: (column: number) => boolean): string[] {
  checkOperand(a);
  checkOperand(b);
  const da = String(a).split('').reverse().map(Number);
  const db = String(b).split('').reverse().map(Number);
  const steps: string[] = [];
  let carry = 0;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const x = da[i] ?? 0,
      y = db[i] ?? 0;
    if (carry && slip?.(i)) carry = 0;
    const sum = x + y + carry;
    steps.push(`${x}+${y}${carry ? '+1' : ''}=${sum}`);
    carry = sum >= 10 ? 1 : 0;
  }
  return steps;
}

/** The answer as the reasoning yields it: last column's sum, then each earlier column's ones digit, last to first. */
export function answerFromSteps(steps: readonly string[]): string {
  const sums = steps.map((s) => s.slice(s.indexOf('=') + 1));
  return (
    sums[sums.length - 1] +
    sums
      .slice(0, -1)
      .reverse()
      .map((s) => s[s.length - 1])
      .join('')
  );
}

export function additionCompletion(a: number, b: number, slip?: (column: number) => boolean): string {
  const steps = columnSteps(a, b, slip);
  return `<think>${steps.join(',')}</think><answer>${answerFromSteps(steps)}</answer>`;
}

export function additionProblem(a: number, b: number, slip?: (column: number) => boolean): AdditionProblem {
  return {
    id: `add-${a}+${b}`,
    a,
    b,
    prompt: `${a}+${b}=`,
    completion: additionCompletion(a, b, slip),
    answer: String(a + b),
  };
}

/** A well-mixed 32-bit hash of the pair (murmur3 finaliser), so the held-out set has no visible pattern. */
function pairHash(a: number, b: number): number {
  let h = Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True for the fixed 10% of pairs reserved for evaluation. */
export function isHeldOutPair(a: number, b: number): boolean {
  return pairHash(a, b) % 10 === 0;
}

function checkOperand(x: number): void {
  if (!Number.isInteger(x) || x < 0 || x >= 10 ** MAX_DIGITS)
    throw new GrpoError('data', `addition operands must be integers in [0, 1e${MAX_DIGITS}), got ${x}`);
}

function digitsOf(opts: AdditionOptions): number {
  const d = opts.digits ?? 3;
  if (!Number.isInteger(d) || d < 1 || d > MAX_DIGITS)
    throw new GrpoError('config', `addition digits must be an integer in [1, ${MAX_DIGITS}], got ${d}`);
  return d;
}

/** `n` distinct problems from one side of the held-out split, drawn from `seed`. */
function drawProblems(n: number, seed: number, heldOut: boolean, opts: AdditionOptions): AdditionProblem[] {
  const digits = digitsOf(opts);
  const range = 10 ** digits;
  const available = heldOut ? (range * range) / 10 : range * range * 0.9;
  if (!Number.isInteger(n) || n < 0 || n > available / 2) {
    throw new GrpoError(
      'config',
      `cannot draw ${n} distinct ${heldOut ? 'held-out' : 'training'} addition problems with ${digits} digits (about ${Math.floor(available)} exist); ask for at most half that or use more digits`,
    );
  }
  const slipRate = opts.carrySlipRate ?? 0;
  if (!(slipRate >= 0 && slipRate <= 1))
    throw new GrpoError('config', `carrySlipRate must be in [0, 1], got ${slipRate}`);
  const rng = new Rng(seed);
  // slips come from a stream of their own, so the problems drawn do not depend on the slip rate
  const slipRng = new Rng(seed ^ 0x5eed5111);
  const slip = slipRate > 0 ? () => slipRng.next() < slipRate : undefined;
  const seen = new Set<number>();
  const out: AdditionProblem[] = [];
  while (out.length < n) {
    const a = rng.int(range),
      b = rng.int(range);
    const key = a * range + b;
    if (isHeldOutPair(a, b) !== heldOut || seen.has(key)) continue;
    seen.add(key);
    out.push(additionProblem(a, b, slip));
  }
  return out;
}

/** Training problems (never held-out pairs), deterministic in `seed`. */
export function additionTrainProblems(n: number, seed: number, opts: AdditionOptions = {}): AdditionProblem[] {
  return drawProblems(n, seed, false, opts);
}

/** Held-out problems, deterministic in `seed`. */
export function additionHeldOutProblems(n: number, seed: number, opts: AdditionOptions = {}): AdditionProblem[] {
  return drawProblems(n, seed, true, opts);
}

/** Characters the task's texts use (besides the R1 tags). */
export const ADDITION_CHARS = '0123456789+=,';
