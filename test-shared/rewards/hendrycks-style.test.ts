// Cases in the style of Hendrycks MATH `is_equiv` (math_equivalence.py and its tests) plus the
// failure modes math-verify documents, written here with their expected verdicts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { answersEquivalent, shutdownSymbolicWorker } from '../../src/rewards/index.ts';

after(() => shutdownSymbolicWorker());

const CASES: [string, string, boolean][] = [
  // fix_fracs / fix_sqrt / fix_a_slash_b
  ['\\frac12', '\\frac{1}{2}', true],
  ['\\frac1{72}', '\\frac{1}{72}', true],
  ['\\frac{1}2', '1/2', true],
  ['\\sqrt3', '\\sqrt{3}', true],
  ['3/4', '\\frac{3}{4}', true],
  ['\\dfrac{3}{4}', '0.75', true],
  // remove_right_units, \text, \mbox
  ['10\\text{ inches}', '10', true],
  ['10\\mbox{ cm}', '10', true],
  ['\\text{10}', '10', true],
  // percent, degrees, dollars, spacing macros
  ['10\\%', '10', true],
  ['50%', '50', true],
  ['30^\\circ', '30', true],
  ['\\$2.50', '2.5', true],
  ['2\\,500', '2500', true],
  ['1\\;000', '1000', true],
  ['32,\\!348', '32348', true],
  // leading zero, trailing zeros, signs
  ['.5', '0.5', true],
  ['0.50', '0.5', true],
  ['-0', '0', true],
  ['+3', '3', true],
  ['- 3', '-3', true],
  // "x = " prefixes
  // (Math-Verify's strict default: x = 3 and y = 3 name different unknowns; Hendrycks strips both prefixes.)
  ['x = 5', '5', true],
  ['a=\\frac{1}{2}', '\\frac{1}{2}', true],
  ['y=3', 'x=3', false],
  // \left \right and brackets
  ['\\left(1,2\\right)', '(1,2)', true],
  ['\\left[1,2\\right)', '[1,2)', true],
  ['\\left\\{1,2\\right\\}', '\\{1,2\\}', true],
  // things that must stay different
  ['\\frac{1}{2}', '\\frac{1}{3}', false],
  ['10', '100', false],
  ['0.5', '0.05', false],
  ['(1,2)', '[1,2]', false],
  ['x+1', 'x-1', false],
  ['\\sqrt{3}', '3', false],
  ['2\\pi', '\\pi', false],
  ['\\text{even}', '\\text{odd}', false],
  ['12', '1,2', false],
  ['1, 2', '(1, 2, 3)', false],
  ['-3', '3', false],
  ['x=5', '5x', false],
  // algebraic identities decided by the CAS
  ['(x+1)^2', 'x^2+2x+1', true],
  ['\\frac{x^2-1}{x-1}', 'x+1', true],
  ['\\sin^2 x + \\cos^2 x', '1', true],
  ['\\ln(e^3)', '3', true],
  ['2^{10}', '1024', true],
  ['\\sqrt{50}', '5\\sqrt{2}', true],
  ['(x+1)^2', 'x^2+1', false],
];

test('Hendrycks is_equiv-style cases', () => {
  let agree = 0;
  const wrong: string[] = [];
  for (const [a, b, expected] of CASES) {
    const got = answersEquivalent(a, b);
    if (got === expected) agree++;
    else wrong.push(`${a} vs ${b}: expected ${expected}, got ${got}`);
  }
  console.log(`hendrycks-style cases: ${agree}/${CASES.length} agree`);
  assert.deepEqual(wrong, []);
});
