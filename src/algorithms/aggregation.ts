import { GrpoError } from '../errors.ts';
import { checkMask, checkSameShape, lengthsOf, type Ragged } from './ragged.ts';

/**
 * How per-token losses ℓ[i][t] become one scalar (docs/methods/grpo.md, dr_grpo.md, dapo.md; verl core_algos.agg_loss):
 * - token-mean: Σ ℓ / N_tokens (DAPO; TRL loss_type="dapo")
 * - seq-mean-token-mean: (1/N_seqs) Σ_i (1/L_i) Σ_t ℓ (GRPO; TRL "grpo")
 * - seq-mean-token-sum: (1/N_seqs) Σ_i Σ_t ℓ
 * - seq-mean-token-sum-norm: Σ ℓ / (N_seqs · maxLength), a constant length normaliser (Dr. GRPO; TRL "dr_grpo")
 * Every mode is linear in ℓ: loss = Σ c[i][t]·ℓ[i][t]. When N_tokens / N_seqs come from the whole batch, the sum of
 * micro-batch losses (and gradients) equals the whole-batch one, however the batch is split.
 */
export type AggregationMode = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';

/** Whole-batch counts; compute once with `aggregationNormalizer` and pass to every micro-batch. */
export interface AggregationNormalizer {
  /** Counted tokens in the whole batch (mask 1). */
  tokens: number;
  /**
   * Sequences with at least one counted token (verl agg_loss excludes fully masked sequences; TRL's "grpo" counts
   * every sequence — pass `{ ...n, sequences: batchSize }` for that).
   */
  sequences: number;
}

export interface AggregationOptions {
  /** The constant of seq-mean-token-sum-norm: the generation limit (TRL max_completion_length, verl loss_scale_factor). */
  maxLength?: number;
  /**
   * Whole-batch counts (aggregationNormalizer of the whole batch, with the same mask); omitted → counted from this
   * call's batch, which is right only when the call holds the whole batch.
   */
  normalizer?: AggregationNormalizer;
  /** 0/1 per token: 0 removes the token from the loss and from the counts (e.g. overlong filtering). */
  mask?: Ragged;
}

/** Coefficient of each counted token of a sequence with `seqTokens` counted tokens. */
type CoefficientRule = (seqTokens: number, n: AggregationNormalizer, maxLength: number) => number;

const safeInverse = (x: number): number => (x > 0 ? 1 / x : 0);

/** One rule per mode: the registry the losses use (no switch scattered around). */
export const aggregations: Record<AggregationMode, CoefficientRule> = {
  'token-mean': (_l, n) => safeInverse(n.tokens),
  'seq-mean-token-mean': (l, n) => safeInverse(n.sequences * l),
  'seq-mean-token-sum': (_l, n) => safeInverse(n.sequences),
  'seq-mean-token-sum-norm': (_l, n, maxLength) => safeInverse(n.sequences * maxLength),
};

/** Counts for the whole batch, from its per-token data (or its lengths) and optional 0/1 mask. */
export function aggregationNormalizer(batch: Ragged | readonly number[], mask?: Ragged): AggregationNormalizer {
  const lengths = batch.map((s) => (Array.isArray(s) ? s.length : (s as number)));
  if (mask) {
    if (mask.length !== lengths.length || mask.some((m, i) => m.length !== lengths[i])) {
      throw new GrpoError('shape', 'aggregationNormalizer: the mask must have one entry per token of the batch');
    }
    checkMask(mask);
    let tokens = 0;
    let sequences = 0;
    for (const m of mask) {
      const c = m.reduce((a, b) => a + b, 0);
      tokens += c;
      if (c > 0) sequences++;
    }
    return { tokens, sequences };
  }
  return { tokens: lengths.reduce((a, b) => a + b, 0), sequences: lengths.filter((l) => l > 0).length };
}

export function isAggregationMode(x: string): x is AggregationMode {
  return Object.hasOwn(aggregations, x);
}

/** c[i][t] with loss = Σ c·ℓ; masked tokens get 0. This is also dLoss/dℓ, which every loss gradient uses. */
export function aggregationWeights(
  mode: AggregationMode,
  lengths: readonly number[],
  opts: AggregationOptions = {},
): Ragged {
  if (!isAggregationMode(mode)) {
    throw new GrpoError('config', `unknown aggregation '${mode}'; use one of ${Object.keys(aggregations).join(', ')}`);
  }
  const mask = opts.mask;
  if (mask) {
    if (mask.length !== lengths.length || mask.some((m, i) => m.length !== lengths[i])) {
      throw new GrpoError('shape', 'the mask must have one 0/1 entry per completion token');
    }
    checkMask(mask);
  }
  let maxLength = 0;
  if (mode === 'seq-mean-token-sum-norm') {
    if (opts.maxLength === undefined || !(opts.maxLength > 0)) {
      throw new GrpoError(
        'config',
        "aggregation 'seq-mean-token-sum-norm' needs maxLength (the generation limit): its normaliser must be a constant, not the batch's longest completion",
      );
    }
    maxLength = opts.maxLength;
  }
  const normalizer = opts.normalizer ?? aggregationNormalizer(lengths as number[], mask);
  const rule = aggregations[mode];
  return lengths.map((len, i) => {
    const row = mask ? mask[i] : null;
    const counted = row ? row.reduce((a, b) => a + b, 0) : len;
    if (counted === 0) return new Array<number>(len).fill(0);
    const c = rule(counted, normalizer, maxLength);
    return row ? row.map((m) => m * c) : new Array<number>(len).fill(c);
  });
}

/** The aggregated scalar of per-token losses. */
export function aggregateLoss(mode: AggregationMode, perToken: number[][], opts: AggregationOptions = {}): number {
  const c = aggregationWeights(mode, lengthsOf(perToken), opts);
  let loss = 0;
  perToken.forEach((s, i) => s.forEach((l, t) => (loss += c[i][t] === 0 ? 0 : c[i][t] * l)));
  return loss;
}

/** Aggregate per-token losses and their per-token derivatives dℓ/dlogp together (for token-local losses). */
export function aggregateWithGradient(
  mode: AggregationMode,
  perToken: Ragged,
  dPerToken: Ragged,
  opts: AggregationOptions = {},
): { loss: number; dlogp: Ragged } {
  checkSameShape('dPerToken', dPerToken, 'perToken', perToken);
  const c = aggregationWeights(mode, lengthsOf(perToken), opts);
  let loss = 0;
  const dlogp = perToken.map((s, i) =>
    s.map((l, t) => {
      if (c[i][t] === 0) return 0; // masked: contributes nothing, even if ℓ is not finite
      loss += c[i][t] * l;
      return c[i][t] * dPerToken[i][t];
    }),
  );
  return { loss, dlogp };
}
