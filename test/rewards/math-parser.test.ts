import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMath } from '../../src/rewards/math/latex-parser.ts';
import { evaluateExactly, toMathjs } from '../../src/rewards/math/math-node.ts';
import { Rational } from '../../src/rewards/math/rational.ts';

const exact = (s: string) => {
  const node = parseMath(s);
  assert.ok(node, `parse ${s}`);
  return evaluateExactly(node)?.toString() ?? null;
};

test('Rational arithmetic is exact and reduced', () => {
  const third = Rational.of(1n, 3n);
  assert.equal(third.add(Rational.of(1n, 6n)).toString(), '1/2');
  assert.equal(Rational.parseDecimal('0.1')!.add(Rational.parseDecimal('0.2')!).toString(), '3/10');
  assert.equal(Rational.parseDecimal('-.25')!.toString(), '-1/4');
  assert.equal(Rational.parseDecimal('1.5e3')!.toString(), '1500');
  assert.equal(Rational.of(6n, -4n).toString(), '-3/2');
  assert.equal(Rational.of(9n, 4n).sqrt()!.toString(), '3/2');
  assert.equal(Rational.of(2n).sqrt(), null);
  assert.equal(Rational.of(2n).pow(Rational.of(100000n)), null, 'huge powers are refused, not computed');
  assert.equal(Rational.of(1n).div(Rational.of(0n)), null);
});

test('LaTeX arithmetic evaluates exactly', () => {
  assert.equal(exact('\\frac{1}{2} + 0.25'), '3/4');
  assert.equal(exact('\\frac12'), '1/2'); // Hendrycks fix_fracs: single-digit arguments
  assert.equal(exact('\\frac 34'), '3/4');
  assert.equal(exact('\\frac9{19}'), '9/19');
  assert.equal(exact('-2^2'), '-4');
  assert.equal(exact('2^3^2'), '512'); // right-associative
  assert.equal(exact('2(3+4)'), '14'); // implicit multiplication
  assert.equal(exact('6 \\div 4 \\cdot 2'), '3');
  assert.equal(exact('\\sqrt{\\frac{9}{16}}'), '3/4');
  assert.equal(exact('10^{-2}'), '1/100');
  assert.equal(exact('\\sqrt{2}'), null); // irrational: left to the CAS
});

test('parser maps LaTeX to explicit mathjs syntax', () => {
  assert.equal(toMathjs(parseMath('2x^2')!), '(2 * (v_x ^ 2))');
  assert.equal(toMathjs(parseMath('xy')!), '(v_x * v_y)'); // letters multiply
  assert.equal(toMathjs(parseMath('\\sin 2x')!), 'sin((2 * v_x))');
  assert.equal(toMathjs(parseMath('\\log_2 8')!), 'log(8, 2)');
  assert.equal(toMathjs(parseMath('\\sqrt[3]{x}')!), 'nthRoot(v_x, 3)');
  assert.equal(toMathjs(parseMath('|x-1|')!), 'abs((v_x - 1))');
  assert.equal(toMathjs(parseMath('3!')!), 'factorial(3)');
  assert.equal(toMathjs(parseMath('\\pi r^2')!), '(pi * (v_r ^ 2))');
  assert.equal(toMathjs(parseMath('a_{12}')!), 'v_a_12');
});

test('parser rejects what it does not understand instead of guessing', () => {
  for (const s of ['204_5', '1 +', '\\foo{3}', '(1', 'x = 3', '', 'a'.repeat(2000)])
    assert.equal(parseMath(s), null, s);
});
