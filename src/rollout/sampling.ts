/**
 * Next-token sampling from one row of logits, in the order Hugging Face and vLLM apply the warpers:
 * temperature → top-k → top-p (nucleus) → min-p, then a draw from the renormalised survivors.
 *
 * Two log-probs are returned for the drawn token, because RL needs to be explicit about them:
 * - `logprob`: log softmax(logits / T) — the temperature-scaled policy, without truncation. This is what the
 *   trainer recomputes (TRL divides logits by the sampling temperature) and what importance ratios use.
 * - `samplingLogprob`: log of the probability the token was actually drawn with, after top-k/top-p/min-p.
 * Temperature 0 is greedy: the arg-max, with `logprob` under T = 1 and `samplingLogprob` 0.
 * Both draw from the probabilities softmax(logits / T): computed here from logits (sampleToken), or by the decode graph
 * (sampleFromProbabilities).
 */
import type { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export interface SamplingParams {
  temperature: number;
  /** keep the k most likely tokens (0 or undefined: off) */
  topK?: number;
  /** keep the smallest set whose probability reaches p (1 or undefined: off) */
  topP?: number;
  /** keep tokens with probability ≥ minP × the top probability (0 or undefined: off) */
  minP?: number;
}

export interface SampledToken {
  token: number;
  logprob: number;
  samplingLogprob: number;
}

export function validateSampling(p: SamplingParams): void {
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature))
    throw new GrpoError('config', `temperature must be ≥ 0, got ${p.temperature}`);
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 0))
    throw new GrpoError('config', `topK must be a non-negative integer, got ${p.topK}`);
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1))
    throw new GrpoError('config', `topP must be in (0, 1], got ${p.topP}`);
  if (p.minP !== undefined && !(p.minP >= 0 && p.minP <= 1))
    throw new GrpoError('config', `minP must be in [0, 1], got ${p.minP}`);
}

export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Rng): SampledToken {
  validateSampling(p);
  return draw(softmax(logits, p.temperature === 0 ? 1 : 1 / p.temperature), p, rng);
}

/**
 * sampleToken from the probabilities softmax(logits / T) (softmax(logits) when greedy) a decode graph computed: the
 * softmax over a 150k vocabulary, per slot and step, is ggml's vectorised kernel instead of 150k host exps.
 */
export function sampleFromProbabilities(probs: Float32Array, p: SamplingParams, rng: Rng): SampledToken {
  validateSampling(p);
  return draw(probs, p, rng);
}

function draw(probs: Float32Array | Float64Array, p: SamplingParams, rng: Rng): SampledToken {
  const V = probs.length;
  if (p.temperature === 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (probs[v] > probs[best]) best = v;
    return { token: best, logprob: Math.log(probs[best]), samplingLogprob: 0 };
  }
  // candidates in descending probability, only as many as the truncations can need
  const topK = p.topK && p.topK < V ? p.topK : V;
  const truncating = topK < V || (p.topP ?? 1) < 1 || (p.minP ?? 0) > 0;
  let pool: number[] | null = null;
  if (truncating) {
    pool = descendingCandidates(probs, topK, p.topP ?? 1);
    if ((p.topP ?? 1) < 1) {
      let cum = 0,
        keep = 0;
      while (keep < pool.length && cum < p.topP!) cum += probs[pool[keep++]];
      pool = pool.slice(0, Math.max(1, keep));
    }
    if ((p.minP ?? 0) > 0) {
      const floor = p.minP! * probs[pool[0]];
      pool = pool.filter((i, k) => k === 0 || probs[i] >= floor);
    }
  }
  // draw from the survivors (all tokens when nothing truncates)
  const n = pool ? pool.length : V;
  let mass = 0;
  if (pool) for (const i of pool) mass += probs[i];
  else for (let i = 0; i < V; i++) mass += probs[i];
  let u = rng.next() * mass,
    k = 0;
  for (; k < n - 1; k++) {
    u -= probs[pool ? pool[k] : k];
    if (u < 0) break;
  }
  const token = pool ? pool[k] : k;
  const logprob = Math.log(probs[token]);
  return { token, logprob, samplingLogprob: pool ? logprob - Math.log(mass) : logprob };
}

let scratch = new Float64Array(0);

/** softmax(scale·x) into a reused buffer (one exp per token: sampling is per step and per slot) */
function softmax(x: Float32Array, scale: number): Float64Array {
  if (scratch.length < x.length) scratch = new Float64Array(x.length);
  const probs = scratch.subarray(0, x.length);
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] * scale > m) m = x[i] * scale;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += probs[i] = Math.exp(x[i] * scale - m);
  for (let i = 0; i < x.length; i++) probs[i] /= sum;
  return probs;
}

/**
 * The top-k tokens in descending probability — enough of them for a nucleus of mass topP. Sorting all of a
 * 150k vocabulary per token is slow, so first keep tokens within a factor 1e-6 of the most likely one: when those
 * already hold topP of the mass and at least k tokens (the usual case), every token the truncations can keep is
 * among them, because each excluded token is less likely than every included one. Otherwise sort everything.
 */
function descendingCandidates(probs: Float32Array | Float64Array, topK: number, topP: number): number[] {
  const V = probs.length;
  let pmax = 0;
  for (let i = 0; i < V; i++) if (probs[i] > pmax) pmax = probs[i];
  const near: number[] = [];
  let mass = 0;
  for (let i = 0; i < V; i++)
    if (probs[i] >= pmax * 1e-6) {
      near.push(i);
      mass += probs[i];
    }
  const pool = mass >= topP && (topK >= V || near.length >= topK) ? near : Array.from({ length: V }, (_, i) => i);
  return pool.sort((a, b) => probs[b] - probs[a] || a - b).slice(0, topK);
}

/** log Σ exp(scale·x), stable */
export function logSumExp(x: Float32Array, scale: number): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] * scale > m) m = x[i] * scale;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i] * scale - m);
  return m + Math.log(s);
}
