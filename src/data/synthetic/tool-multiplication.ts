/**
 * Multiplication with a calculator (the multi-turn tool demo): a 3-digit by 2-digit product is too long for a
 * small model to work out reliably in its head, and easy with the calculator tool in the plain-text format:
 *
 *   prompt      347*86=
 *   with tool   <calculator>347*86</calculator><tool_response>29842</tool_response><answer>29842</answer>
 *   by hand     <answer>29842</answer>
 *
 * (`<tool_response>…</tool_response>` is the environment's answer: in a rollout it is inserted, not sampled).
 * Cold-start traces call the tool only sometimes (`toolRate`), so a model trained on them answers by hand when
 * decoding greedily and calls the tool only when sampling: RL has to find out that calling it pays.
 * Held-out pairs are a fixed 10% of all (a, b) pairs chosen by a hash, as in the addition task.
 */
import { Rng } from '../../util/rng.ts';
import { GrpoError } from '../../errors.ts';
import type { Example } from '../presets.ts';
import { isHeldOutPair } from './column-addition.ts';

export interface ToolMultiplicationOptions {
  /** probability that a training trace calls the calculator (default 0.3); held-out references always do */
  toolRate?: number;
}

/** The tags the task's texts use, each one token of the character tokenizer. */
export const TOOL_MULTIPLICATION_TAGS = [
  '<answer>',
  '</answer>',
  '<calculator>',
  '</calculator>',
  '<tool_response>',
  '</tool_response>',
] as const;
export const TOOL_MULTIPLICATION_CHARS = '0123456789*=';

const A_RANGE = [100, 1000] as const,
  B_RANGE = [10, 100] as const;

export function toolMultiplicationCompletion(a: number, b: number, useTool: boolean): string {
  const answer = `<answer>${a * b}</answer>`;
  return useTool ? `<calculator>${a}*${b}</calculator><tool_response>${a * b}</tool_response>${answer}` : answer;
}

function draw(
  n: number,
  seed: number,
  heldOut: boolean,
  toolRate: number,
): (Example & { answer: string; completion: string })[] {
  if (!(toolRate >= 0 && toolRate <= 1)) throw new GrpoError('config', `tool_rate must be in [0, 1], got ${toolRate}`);
  const pairs = (A_RANGE[1] - A_RANGE[0]) * (B_RANGE[1] - B_RANGE[0]);
  if (!Number.isInteger(n) || n < 0 || n > (heldOut ? pairs / 10 : pairs * 0.9) / 2) {
    throw new GrpoError(
      'config',
      `cannot draw ${n} distinct ${heldOut ? 'held-out' : 'training'} multiplication problems (about ${heldOut ? pairs / 10 : pairs * 0.9} exist); ask for at most half that`,
    );
  }
  const rng = new Rng(seed),
    toolRng = new Rng(seed ^ 0x7001);
  const seen = new Set<number>();
  const out: (Example & { answer: string; completion: string })[] = [];
  while (out.length < n) {
    const a = A_RANGE[0] + rng.int(A_RANGE[1] - A_RANGE[0]),
      b = B_RANGE[0] + rng.int(B_RANGE[1] - B_RANGE[0]);
    if (isHeldOutPair(a, b) !== heldOut || seen.has(a * 1000 + b)) continue;
    seen.add(a * 1000 + b);
    out.push({
      id: `mul-${a}*${b}`,
      prompt: `${a}*${b}=`,
      answer: String(a * b),
      completion: toolMultiplicationCompletion(a, b, heldOut || toolRng.next() < toolRate),
    });
  }
  return out;
}

export function toolMultiplicationTrain(n: number, seed: number, opts: ToolMultiplicationOptions = {}) {
  return draw(n, seed, false, opts.toolRate ?? 0.3);
}

export function toolMultiplicationHeldOut(n: number, seed: number) {
  return draw(n, seed, true, 1);
}
