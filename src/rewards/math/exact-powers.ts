/**
 * Exact comparison of numbers too large to write out. An answer such as 9^{9^9} + 1 becomes a sum of terms
 * c·Π a^E: c a rational, each atom a a prime (or a large cofactor without small prime factors, reduced to a
 * non-perfect power) and each exponent E a BigInt — 9^{9^9} and 9^{387420489} are both 3^{774840978}, 2^{100}
 * and 4^{50} both 2^{100}. Nothing huge is ever expanded. A difference of two answers is zero when its terms
 * cancel; otherwise terms within a bounded factor of one another are summed exactly after their common power is
 * factored out (2·2^E − 2^{E+1} = 2^E·(2 − 2) = 0), and what remains differs from zero when one term outweighs
 * all the others together. Anything else is undecided (null) and left to the CAS.
 * Math-Verify (sympy) expands such powers and hits its timeout, scoring 9^{9^9} = 9^{387420489} as wrong; here
 * the mathematical answer is given within the budget.
 */
import { Rational } from './rational.ts';
import { evaluateExactly, type MathNode } from './math-node.ts';
import type { Deadline } from './deadline.ts';

/** value = coef · Π atom^exponent; exponents are never 0. */
interface Term {
  coef: Rational;
  atoms: Map<bigint, bigint>;
}
type PowerSum = Term[];

/** More terms than this (a product of long sums) is left undecided. */
const MAX_TERMS = 64;
/** Exponents beyond this (2^{2^{1000}}) are left undecided: their magnitudes no longer fit a double. */
const MAX_EXPONENT = 1n << 1000n;
/** A power is kept as a plain rational up to this many bits (as Rational.pow). */
const EXACT_POWER_BITS = 4096;
/** Terms within this factor (in bits) of one another are summed exactly once their common power is factored out. */
const CLOSE_BITS = 1 << 16;
const MAX_RESIDUAL_BITS = 1 << 18;
/** A sum raised to a power is multiplied out only up to this exponent. */
const MAX_SUM_POWER = 16n;
const TRIAL_DIVISION_LIMIT = 1n << 16n;
const FACTOR_CACHE_LIMIT = 1000;
const factorCache = new Map<bigint, Map<bigint, bigint>>();

const ONE = Rational.fromInt(1);

function atomsKey(atoms: Map<bigint, bigint>): string {
  return [...atoms]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([a, e]) => `${a}^${e}`)
    .join('*');
}

/** Adds `k`·`exponents` into `into`, dropping atoms whose exponent becomes 0. */
function addExponents(into: Map<bigint, bigint>, exponents: Map<bigint, bigint>, k = 1n): Map<bigint, bigint> {
  for (const [a, e] of exponents) {
    const sum = (into.get(a) ?? 0n) + e * k;
    if (sum === 0n) into.delete(a);
    else into.set(a, sum);
  }
  return into;
}

/** Like terms added together, zero terms dropped. */
function combine(terms: Term[]): PowerSum {
  const byKey = new Map<string, Term>();
  for (const t of terms) {
    const key = atomsKey(t.atoms);
    const seen = byKey.get(key);
    byKey.set(key, seen ? { coef: seen.coef.add(t.coef), atoms: seen.atoms } : t);
  }
  return [...byKey.values()].filter((t) => t.coef.num !== 0n);
}

function negate(sum: PowerSum): PowerSum {
  return sum.map((t) => ({ coef: t.coef.neg(), atoms: t.atoms }));
}

function multiply(x: PowerSum, y: PowerSum, d: Deadline): PowerSum | null {
  if (x.length * y.length > MAX_TERMS * MAX_TERMS) return null;
  const terms: Term[] = [];
  for (const s of x) {
    d.check();
    for (const t of y) terms.push({ coef: s.coef.mul(t.coef), atoms: addExponents(new Map(s.atoms), t.atoms) });
  }
  const product = combine(terms);
  return product.length <= MAX_TERMS ? product : null;
}

/** n = s^k with k as large as possible (s is then no perfect power). */
function perfectPowerRoot(n: bigint, d: Deadline): [bigint, bigint] {
  let root = n;
  let k = 1n;
  // A root below TRIAL_DIVISION_LIMIT would have been found by trial division, so a degree p needs p ≤ bits/16.
  for (let p = 2; p <= Math.floor(bitLength(root) / 16); p++) {
    d.check();
    if (!isSmallPrime(p)) continue;
    const r = integerRoot(root, p);
    if (r ** BigInt(p) === root) {
      root = r;
      k *= BigInt(p);
      p = 1; // the root may itself be a power
    }
  }
  return [root, k];
}

/** Prime atoms of n ≥ 1 by trial division; a remaining cofactor with no factor below 2^16 is one atom. */
function factorInteger(n: bigint, d: Deadline): Map<bigint, bigint> {
  const cached = factorCache.get(n);
  if (cached) return cached;
  const atoms = new Map<bigint, bigint>();
  let rest = n;
  for (let p = 2n; p < TRIAL_DIVISION_LIMIT && p * p <= rest; p += p === 2n ? 1n : 2n) {
    if ((p & 1023n) === 1n) d.check();
    if (rest % p !== 0n) continue;
    let k = 0n;
    while (rest % p === 0n) {
      rest /= p;
      k++;
    }
    atoms.set(p, k);
  }
  if (rest > 1n) {
    const [root, k] = rest < TRIAL_DIVISION_LIMIT * TRIAL_DIVISION_LIMIT ? [rest, 1n] : perfectPowerRoot(rest, d);
    atoms.set(root, (atoms.get(root) ?? 0n) + k);
  }
  if (factorCache.size >= FACTOR_CACHE_LIMIT) factorCache.delete(factorCache.keys().next().value as bigint);
  factorCache.set(n, atoms);
  return atoms;
}

/** Atoms written out: the exact rational a term is, when it has at most EXACT_POWER_BITS bits. */
function smallValue(t: Term): Rational | null {
  if (distanceBits(t.atoms, new Map()) > EXACT_POWER_BITS) return null;
  let num = 1n;
  let den = 1n;
  for (const [a, e] of t.atoms) {
    if (e > 0n) num *= a ** e;
    else den *= a ** -e;
  }
  return t.coef.mul(Rational.of(num, den));
}

/** base^n without ever materialising a huge value; null when undecidable within the limits. */
function power(sum: PowerSum, n: bigint, d: Deadline): PowerSum | null {
  if (sum.length === 0) return n > 0n ? [] : null;
  if (n === 0n) return [{ coef: ONE, atoms: new Map() }];
  // A sum of modest terms is one rational: (2^{4000} + 1)^{10^6} raises the number 2^{4000} + 1.
  const values = sum.length > 1 ? sum.map(smallValue) : [];
  const base =
    values.length > 0 && values.every((v) => v !== null)
      ? combine([{ coef: values.reduce((s, v) => s.add(v), Rational.fromInt(0)), atoms: new Map() }])
      : sum;
  if (base.length === 0) return n > 0n ? [] : null;
  if (base.length === 1) {
    const [t] = base;
    const atoms = addExponents(new Map(), t.atoms, n);
    let coef = t.coef.pow(Rational.of(n), EXACT_POWER_BITS);
    if (!coef) {
      // c^n too large to write: c's prime factors join the atoms (9^{387420489} = 3^{774840978}).
      const { num, den } = t.coef;
      addExponents(atoms, factorInteger(num < 0n ? -num : num, d), n);
      addExponents(atoms, factorInteger(den, d), -n);
      coef = Rational.fromInt(num < 0n && n % 2n !== 0n ? -1n : 1n);
    }
    for (const e of atoms.values()) if (e > MAX_EXPONENT || -e > MAX_EXPONENT) return null;
    return [{ coef, atoms }];
  }
  if (n < 0n || n > MAX_SUM_POWER) return null;
  let result: PowerSum | null = base;
  for (let i = 1n; i < n && result; i++) result = multiply(result, base, d);
  return result;
}

/** The answer as a sum of power terms, or null when it is not integer arithmetic on rationals. */
function build(node: MathNode, d: Deadline): PowerSum | null {
  d.check();
  switch (node.kind) {
    case 'num': {
      const value = Rational.parseDecimal(node.text);
      return value ? combine([{ coef: value, atoms: new Map() }]) : null;
    }
    case 'neg': {
      const arg = build(node.arg, d);
      return arg && negate(arg);
    }
    case 'call': {
      const value = evaluateExactly(node); // √16 and the like
      return value ? combine([{ coef: value, atoms: new Map() }]) : null;
    }
    case 'bin':
      break;
    default:
      return null;
  }
  const left = build(node.left, d);
  if (!left) return null;
  if (node.op === '^') {
    const exponent = evaluateExactly(node.right);
    if (!exponent?.isInteger()) return null;
    const n = exponent.num;
    return n > MAX_EXPONENT || -n > MAX_EXPONENT ? null : power(left, n, d);
  }
  const right = build(node.right, d);
  if (!right) return null;
  switch (node.op) {
    case '+':
    case '-': {
      const sum = combine([...left, ...(node.op === '+' ? right : negate(right))]);
      return sum.length <= MAX_TERMS ? sum : null;
    }
    case '*':
      return multiply(left, right, d);
    case '/': {
      // Only a single term divides exactly: a / (c·Π a^E) = a · (1/c)·Π a^{−E}.
      if (right.length !== 1) return null;
      const [t] = right;
      const inverse = ONE.div(t.coef);
      return inverse && multiply(left, [{ coef: inverse, atoms: addExponents(new Map(), t.atoms, -1n) }], d);
    }
  }
  return null;
}

/** log2 |x| of a positive BigInt, as a double. */
function log2Big(x: bigint): number {
  const bits = bitLength(x);
  return bits <= 1000 ? Math.log2(Number(x)) : bits - 1000 + Math.log2(Number(x >> BigInt(bits - 1000)));
}

function log2Abs(r: Rational): number {
  return log2Big(r.num < 0n ? -r.num : r.num) - log2Big(r.den);
}

/** How far apart (in bits of their ratio's exponent part) two terms' powers are. */
function distanceBits(x: Map<bigint, bigint>, y: Map<bigint, bigint>): number {
  let bits = 0;
  for (const a of new Set([...x.keys(), ...y.keys()])) {
    const diff = (x.get(a) ?? 0n) - (y.get(a) ?? 0n);
    bits += Math.abs(Number(diff)) * log2Big(a);
  }
  return bits;
}

/** Exact sum of terms within a bounded factor of each other: their common power times a rational. */
function sumCluster(terms: Term[], d: Deadline): Term | null {
  const common = new Map<bigint, bigint>();
  const atoms = new Set(terms.flatMap((t) => [...t.atoms.keys()]));
  for (const a of atoms) {
    let low = terms[0].atoms.get(a) ?? 0n;
    for (const t of terms) {
      const e = t.atoms.get(a) ?? 0n;
      if (e < low) low = e;
    }
    if (low !== 0n) common.set(a, low);
  }
  let total = Rational.fromInt(0);
  for (const t of terms) {
    d.check();
    const rest = addExponents(new Map(t.atoms), common, -1n);
    if (distanceBits(rest, new Map()) > MAX_RESIDUAL_BITS) return null;
    let factor = 1n;
    for (const [a, e] of rest) factor *= a ** e; // e > 0: common holds each atom's smallest exponent
    total = total.add(t.coef.mul(Rational.fromInt(factor)));
  }
  return { coef: total, atoms: common };
}

/** Whether a combined sum is zero: 'equal' (it is), 'different' (it is not), null (undecided). */
function decideZero(sum: PowerSum, d: Deadline): 'equal' | 'different' | null {
  if (sum.length === 0) return 'equal';
  // Group terms whose powers are close (union–find), and sum each group exactly.
  const group = sum.map((_, i) => i);
  const root = (i: number): number => (group[i] === i ? i : (group[i] = root(group[i])));
  for (let i = 0; i < sum.length; i++) {
    d.check();
    for (let j = i + 1; j < sum.length; j++)
      if (distanceBits(sum[i].atoms, sum[j].atoms) <= CLOSE_BITS) group[root(i)] = root(j);
  }
  const members = new Map<number, Term[]>();
  sum.forEach((t, i) => members.set(root(i), [...(members.get(root(i)) ?? []), t]));
  const clusters: Term[] = [];
  for (const terms of members.values()) {
    const total = sumCluster(terms, d);
    if (!total) return null;
    if (total.coef.num !== 0n) clusters.push(total);
  }
  if (clusters.length <= 1) return clusters.length === 0 ? 'equal' : 'different';
  // Far-apart groups: nonzero when the largest outweighs all the others together (with room for float error).
  const sizes = clusters
    .map((t) => log2Abs(t.coef) + [...t.atoms].reduce((s, [a, e]) => s + Number(e) * log2Big(a), 0))
    .sort((a, b) => b - a);
  const margin = Math.log2(clusters.length) + 1 + 1e-9 * Math.max(Math.abs(sizes[0]), Math.abs(sizes[1]), 1);
  return sizes[0] - sizes[1] > margin ? 'different' : null;
}

/**
 * Compares two variable-free answers with exponent arithmetic: 'equal', 'different', or null when either is not
 * rational arithmetic with integer powers, or when the limits above leave it undecided.
 */
export function comparePowerSums(a: MathNode, b: MathNode, d: Deadline): 'equal' | 'different' | null {
  const x = build(a, d);
  if (!x) return null;
  const y = build(b, d);
  if (!y) return null;
  return decideZero(combine([...x, ...negate(y)]), d);
}

/**
 * A key that only equal values share (to match large sets by lookup): a rational's own text (as
 * Rational.toString), else the sum's terms. Null when `node` is no power sum.
 */
export function powerSumKey(node: MathNode, d: Deadline): string | null {
  const sum = build(node, d);
  if (!sum) return null;
  if (sum.length === 0) return '0';
  if (sum.length === 1 && sum[0].atoms.size === 0) return sum[0].coef.toString();
  return sum
    .map((t) => `${t.coef}*${atomsKey(t.atoms)}`)
    .sort()
    .join('+');
}

function bitLength(n: bigint): number {
  return (n < 0n ? -n : n).toString(2).length;
}

/** floor(n^(1/k)) for n ≥ 1 by Newton's method from an upper bound. */
function integerRoot(n: bigint, k: number): bigint {
  const kk = BigInt(k);
  let x = 1n << BigInt(Math.ceil(bitLength(n) / k));
  for (;;) {
    const y = ((kk - 1n) * x + n / x ** (kk - 1n)) / kk;
    if (y >= x) return x;
    x = y;
  }
}

function isSmallPrime(p: number): boolean {
  if (p < 2) return false;
  for (let q = 2; q * q <= p; q++) if (p % q === 0) return false;
  return true;
}
