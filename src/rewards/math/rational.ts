/** Exact rational numbers on BigInt, for grading answers without float error (0.1 + 0.2 = 3/10 exactly). */
export class Rational {
  readonly num: bigint;
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  static of(num: bigint, den: bigint = 1n): Rational {
    if (den === 0n) throw new RangeError('rational with zero denominator');
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const g = gcd(num < 0n ? -num : num, den);
    return new Rational(num / g, den / g);
  }

  static fromInt(n: number | bigint): Rational {
    return Rational.of(BigInt(n));
  }

  /** Parses a plain decimal literal ("12", "-0.5", ".25", "3.", "1e-3"); null if it is not one. */
  static parseDecimal(text: string): Rational | null {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/.exec(text.trim());
    if (!m) return null;
    const [, sign, intPart = '', fracPart = '', expPart] = m;
    if (intPart === '' && fracPart === '') return null;
    let num = BigInt((intPart || '0') + fracPart);
    let den = 10n ** BigInt(fracPart.length);
    const exp = expPart ? Number(expPart) : 0;
    if (exp > 0) num *= 10n ** BigInt(exp);
    if (exp < 0) den *= 10n ** BigInt(-exp);
    return Rational.of(sign === '-' ? -num : num, den);
  }

  add(o: Rational): Rational {
    return Rational.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }
  sub(o: Rational): Rational {
    return Rational.of(this.num * o.den - o.num * this.den, this.den * o.den);
  }
  mul(o: Rational): Rational {
    return Rational.of(this.num * o.num, this.den * o.den);
  }
  /** Returns null on division by zero (callers treat it as "not a number"). */
  div(o: Rational): Rational | null {
    if (o.num === 0n) return null;
    return Rational.of(this.num * o.den, this.den * o.num);
  }
  neg(): Rational {
    return new Rational(-this.num, this.den);
  }
  /** Integer power; null when the result would be huge (guards against 2^(10^9)) or 0 to a negative power. */
  pow(exp: Rational, maxResultBits = 4096): Rational | null {
    if (exp.den !== 1n) return null;
    const e = exp.num < 0n ? -exp.num : exp.num;
    const bits = BigInt(Math.max(bitLength(this.num), bitLength(this.den)));
    if (bits * e > BigInt(maxResultBits)) return null;
    let result = Rational.of(this.num ** e, this.den ** e);
    if (exp.num < 0n) {
      const inv = Rational.fromInt(1).div(result);
      if (!inv) return null;
      result = inv;
    }
    return result;
  }
  /** Exact square root when numerator and denominator are perfect squares, else null. */
  sqrt(): Rational | null {
    if (this.num < 0n) return null;
    const n = isqrt(this.num);
    const d = isqrt(this.den);
    return n * n === this.num && d * d === this.den ? Rational.of(n, d) : null;
  }
  /** value · 10^places rounded to the nearest integer, halves away from zero (for decimal-place comparison). */
  scaledRound(places: number): bigint {
    const n = (this.num < 0n ? -this.num : this.num) * 10n ** BigInt(places);
    const rounded = (2n * n + this.den) / (2n * this.den);
    return this.num < 0n ? -rounded : rounded;
  }
  isInteger(): boolean {
    return this.den === 1n;
  }
  equals(o: Rational): boolean {
    return this.num === o.num && this.den === o.den;
  }
  toNumber(): number {
    return Number(this.num) / Number(this.den);
  }
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a === 0n ? 1n : a;
}

function bitLength(n: bigint): number {
  return (n < 0n ? -n : n).toString(2).length;
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton's method from an upper bound decreases monotonically to floor(sqrt(n)).
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
