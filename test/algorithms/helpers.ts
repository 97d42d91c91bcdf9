// Shared test helpers: central finite differences and float comparisons (float64 throughout).
import assert from 'node:assert/strict';

export type Ragged = number[][];

export function assertClose(actual: number, expected: number, tol = 1e-12, what = 'value'): void {
  const ok = Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
  assert.ok(ok, `${what}: got ${actual}, expected ${expected} (tol ${tol})`);
}

export function assertAllClose(
  actual: readonly number[],
  expected: readonly number[],
  tol = 1e-12,
  what = 'array',
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => assertClose(a, expected[i], tol, `${what}[${i}]`));
}

export function assertRaggedClose(actual: Ragged, expected: Ragged, tol = 1e-12, what = 'ragged'): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} vs ${expected.length} sequences`);
  actual.forEach((s, i) => assertAllClose(s, expected[i], tol, `${what}[${i}]`));
}

const clone = (x: Ragged): Ragged => x.map((s) => s.slice());

/** Central differences (f(x+h) − f(x−h)) / 2h of a scalar function of ragged x, one entry per element. */
export function numericGradient(f: (x: Ragged) => number, x: Ragged, h = 1e-6): Ragged {
  return x.map((s, i) =>
    s.map((_v, t) => {
      const plus = clone(x);
      const minus = clone(x);
      plus[i][t] += h;
      minus[i][t] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}

/**
 * The analytic gradient must match central differences of the function's own value within
 * |a − n| ≤ tol·max(1, |n|); tol 1e-6 with h = 1e-6 leaves room for O(h²) truncation and rounding.
 */
export function assertGradientMatchesFd(
  f: (x: Ragged) => number,
  analytic: Ragged,
  x: Ragged,
  tol = 1e-6,
  what = 'gradient',
): void {
  const numeric = numericGradient(f, x);
  assert.equal(analytic.length, numeric.length);
  analytic.forEach((s, i) =>
    s.forEach((a, t) => {
      const n = numeric[i][t];
      assert.ok(
        Math.abs(a - n) <= tol * Math.max(1, Math.abs(n)),
        `${what}[${i}][${t}]: analytic ${a} vs finite-difference ${n}`,
      );
    }),
  );
}

/** Split a batch at the given sequence boundaries, e.g. [2, 3] → [0,2), [2,3), [3,end). */
export function splitAt<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const bounds = [0, ...cuts, xs.length];
  return bounds.slice(0, -1).map((b, k) => xs.slice(b, bounds[k + 1]));
}

/** A deterministic pseudo-random ragged batch (LCG), so tests need no seed plumbing. */
export function pseudoRandomRagged(lengths: readonly number[], seed: number, lo: number, hi: number): Ragged {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return lengths.map((len) => Array.from({ length: len }, () => lo + (hi - lo) * next()));
}
