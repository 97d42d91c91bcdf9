/**
 * Countdown reward with TinyZero's rules (verl/utils/reward_score/countdown.py `compute_score`):
 * no <answer> → 0; an answer that does not use each given number exactly once, does not parse, or
 * misses the target → format score 0.1; the target reached → 1.0.
 * The equation is parsed by the small parser below and evaluated in exact rationals — never eval.
 */
import { Rational } from './math/rational.ts';
import type { RewardFn, Sample } from './types.ts';
import { GrpoError } from '../errors.ts';

export interface CountdownOptions {
  /** Score for a well-formed but wrong answer. Default 0.1 (TinyZero `format_score`). */
  formatScore?: number;
  /** Score for a correct equation. Default 1.0. */
  score?: number;
}

/** Longest equation accepted; Countdown equations are a few numbers long. */
const MAX_EQUATION_CHARS = 200;

/** Parses `+ - * / ( )` over non-negative integers (× ÷ accepted). Returns the value and the numbers used, or null. */
export function evaluateCountdownEquation(equation: string): { value: Rational; numbers: number[] } | null {
  if (equation.length > MAX_EQUATION_CHARS) return null;
  const tokens = equation
    .replace(/×/g, '*')
    .replace(/÷/g, '/')
    .replace(/[−–]/g, '-')
    .match(/\d+|[+\-*/()]|\S/g);
  if (!tokens) return null;
  const numbers: number[] = [];
  let pos = 0;
  const fail = (): never => {
    throw new CountdownSyntaxError();
  };
  const expr = (): Rational => {
    let v = term();
    while (tokens[pos] === '+' || tokens[pos] === '-') {
      const op = tokens[pos++];
      const r = term();
      v = op === '+' ? v.add(r) : v.sub(r);
    }
    return v;
  };
  const term = (): Rational => {
    let v = factor();
    while (tokens[pos] === '*' || tokens[pos] === '/') {
      const op = tokens[pos++];
      const r = factor();
      v = op === '*' ? v.mul(r) : (v.div(r) ?? fail());
    }
    return v;
  };
  const factor = (): Rational => {
    const t = tokens[pos++];
    if (t === undefined) return fail();
    if (t === '-') return factor().neg();
    if (t === '(') {
      const v = expr();
      if (tokens[pos++] !== ')') fail();
      return v;
    }
    if (!/^\d+$/.test(t)) return fail();
    numbers.push(Number(t));
    return Rational.of(BigInt(t));
  };
  try {
    const value = expr();
    if (pos !== tokens.length) return null;
    return { value, numbers };
  } catch (e) {
    if (e instanceof CountdownSyntaxError) return null;
    throw e;
  }
}

class CountdownSyntaxError extends Error {}

/** Content of the last <answer>…</answer>, trimmed; null if none. */
export function extractCountdownAnswer(completion: string): string | null {
  const matches = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  return matches.length ? matches[matches.length - 1][1].trim() : null;
}

function sameMultiset(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.every((v, i) => v === y[i]);
}

/** Scores one Countdown completion against the available numbers and the target. */
export function scoreCountdown(
  completion: string,
  numbers: readonly number[],
  target: number,
  opts: CountdownOptions = {},
): number {
  const formatScore = opts.formatScore ?? 0.1;
  const score = opts.score ?? 1.0;
  const equation = extractCountdownAnswer(completion);
  if (equation === null) return 0;
  const result = evaluateCountdownEquation(equation);
  if (!result || !sameMultiset(result.numbers, [...numbers])) return formatScore;
  return result.value.equals(Rational.of(BigInt(target))) ? score : formatScore;
}

function toIntegers(v: unknown, what: string): number[] {
  const list = typeof v === 'string' ? v.split(',') : v;
  if (!Array.isArray(list) && !ArrayBuffer.isView(list)) {
    throw new GrpoError(
      'reward',
      `countdown reward: sample.${what} must be a list of integers (got ${typeof v}); map your dataset to 'numbers' and 'target'`,
    );
  }
  const out = Array.from(list as ArrayLike<unknown>, (x) => Number(x));
  if (out.some((x) => !Number.isInteger(x)))
    throw new GrpoError('reward', `countdown reward: sample.${what} holds a non-integer: ${JSON.stringify(list)}`);
  return out;
}

/** Countdown reward for the trainer: reads `numbers` (or TinyZero's `nums`) and `target` from the sample. */
export function countdownReward(opts: CountdownOptions = {}): RewardFn {
  return (completion: string, sample: Sample) => {
    const numbers = toIntegers(sample.numbers ?? sample.nums, 'numbers');
    const [target] = toIntegers([sample.target], 'target');
    return scoreCountdown(completion, numbers, target, opts);
  };
}
