import { GrpoError } from '../errors.ts';

/**
 * Ragged per-token data: one inner array per sequence, holding that sequence's completion tokens only.
 * No padding exists, so no padding mask is needed; any real exclusion is an explicit 0/1 mask or weight.
 */
export type Ragged = number[][];

/** What every loss returns: the scalar and dLoss/dlogp[i][t] — the per-token coefficients the engine backpropagates. */
export interface LossResult {
  loss: number;
  dlogp: Ragged;
  /** Diagnostics (clip fractions, KL, …); never needed for the gradient. */
  stats?: Record<string, number>;
}

export function lengthsOf(x: Ragged): number[] {
  return x.map((s) => s.length);
}

/** Throw a GrpoError('shape') unless `x` has exactly the sequence lengths of `ref`. */
export function checkSameShape(name: string, x: Ragged, refName: string, ref: Ragged): void {
  if (!Array.isArray(x) || x.length !== ref.length) {
    throw new GrpoError(
      'shape',
      `${name} has ${Array.isArray(x) ? x.length : 'no'} sequences but ${refName} has ${ref.length}; pass one inner array per sequence for both`,
    );
  }
  for (let i = 0; i < ref.length; i++) {
    if (x[i].length !== ref[i].length) {
      throw new GrpoError(
        'shape',
        `${name}[${i}] has ${x[i].length} tokens but ${refName}[${i}] has ${ref[i].length}; per-token arrays must cover the same completion tokens`,
      );
    }
  }
}

/** Throw unless every entry of `mask` is 0 or 1 (fractional scaling belongs in per-token weights). */
export function checkMask(mask: Ragged, name = 'mask'): void {
  mask.forEach((s, i) =>
    s.forEach((m, t) => {
      if (m !== 0 && m !== 1) {
        throw new GrpoError(
          'value',
          `${name}[${i}][${t}] is ${m}; a mask is 0/1 (use per-token weights for fractional scaling)`,
        );
      }
    }),
  );
}

export function checkLength(name: string, x: ArrayLike<unknown>, n: number, what: string): void {
  if (x.length !== n) {
    throw new GrpoError('shape', `${name} has ${x.length} entries but ${n} were expected (${what})`);
  }
}

/** Split a flat batch into consecutive groups: a fixed size (must divide the batch) or one size per group. */
export function groupSlices(batchSize: number, groupSize: number | readonly number[]): Array<[number, number]> {
  const slices: Array<[number, number]> = [];
  if (typeof groupSize === 'number') {
    if (!Number.isInteger(groupSize) || groupSize < 1) {
      throw new GrpoError('shape', `groupSize must be a positive integer, got ${groupSize}`);
    }
    if (batchSize % groupSize !== 0) {
      throw new GrpoError(
        'shape',
        `groupSize ${groupSize} does not divide the batch of ${batchSize}; lay out completions prompt by prompt, groupSize per prompt`,
      );
    }
    for (let s = 0; s < batchSize; s += groupSize) slices.push([s, s + groupSize]);
    return slices;
  }
  let s = 0;
  for (const g of groupSize) {
    if (!Number.isInteger(g) || g < 1)
      throw new GrpoError('shape', `every group size must be a positive integer, got ${g}`);
    slices.push([s, s + g]);
    s += g;
  }
  if (s !== batchSize) {
    throw new GrpoError(
      'shape',
      `group sizes sum to ${s} but the batch has ${batchSize} entries; give one size per group, in batch order`,
    );
  }
  return slices;
}

/** A per-sequence value repeated over each sequence's tokens; a ragged input is returned as is (after a shape check). */
export function broadcastToTokens(
  values: readonly number[] | Ragged,
  lengths: readonly number[],
  name = 'values',
): Ragged {
  checkLength(name, values, lengths.length, 'one per sequence');
  return lengths.map((len, i) => {
    const v = values[i];
    if (Array.isArray(v)) {
      if (v.length !== len)
        throw new GrpoError('shape', `${name}[${i}] has ${v.length} tokens but the sequence has ${len}`);
      return v;
    }
    return new Array<number>(len).fill(v as number);
  });
}

export function zerosLike(x: Ragged): Ragged {
  return x.map((s) => new Array<number>(s.length).fill(0));
}

/** Element-wise product of ragged arrays (e.g. combining a 0/1 mask with importance weights). */
export function multiplyRagged(a: Ragged, b: Ragged): Ragged {
  checkSameShape('b', b, 'a', a);
  return a.map((s, i) => s.map((v, t) => v * b[i][t]));
}

/**
 * The entries of each sequence where the 0/1 mask is 1, in order: a multi-turn episode seen as the tokens the model
 * sampled, without what the environment inserted (verl's multi-turn GAE skips observation tokens the same way).
 */
export function selectMasked(x: Ragged, mask: Ragged, name = 'x'): Ragged {
  checkSameShape(name, x, 'mask', mask);
  checkMask(mask);
  return x.map((s, i) => s.filter((_, t) => mask[i][t] === 1));
}

/** The inverse of selectMasked: `x`'s entries put back where the mask is 1, `fill` where it is 0. */
export function scatterMasked(x: Ragged, mask: Ragged, fill = 0): Ragged {
  checkMask(mask);
  if (x.length !== mask.length) throw new GrpoError('shape', `${x.length} sequences for a mask of ${mask.length}`);
  return mask.map((m, i) => {
    const ones = m.reduce((a, b) => a + b, 0);
    if (x[i].length !== ones)
      throw new GrpoError('shape', `sequence ${i}: ${x[i].length} values for ${ones} masked-in tokens`);
    let k = 0;
    return m.map((v) => (v === 1 ? x[i][k++] : fill));
  });
}

/** Sum of several losses on the same batch (e.g. policy loss + KL loss): values and gradients add. */
export function sumLosses(...parts: LossResult[]): LossResult {
  if (parts.length === 0) throw new GrpoError('shape', 'sumLosses needs at least one loss');
  const dlogp = parts[0].dlogp.map((s) => s.slice());
  let loss = parts[0].loss;
  for (const p of parts.slice(1)) {
    checkSameShape('dlogp', p.dlogp, 'the first loss dlogp', dlogp);
    loss += p.loss;
    p.dlogp.forEach((s, i) => s.forEach((g, t) => (dlogp[i][t] += g)));
  }
  return { loss, dlogp };
}
