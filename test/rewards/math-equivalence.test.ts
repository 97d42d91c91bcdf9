import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { answersEquivalent } from '../../src/rewards/math/equivalence.ts';
import { gradeMath, mathReward } from '../../src/rewards/math/grade.ts';
import { buildRewards } from '../../src/rewards/registry.ts';
import { shutdownSymbolicWorker } from '../../src/rewards/math/symbolic.ts';

after(() => shutdownSymbolicWorker());

// Pairs in the style of Hendrycks MATH `is_equiv` tests and math-verify regressions (written here).
const EQUIVALENT: [string, string][] = [
  ['\\frac{1}{2}', '0.5'],
  ['\\dfrac{1}{2}', '1/2'],
  ['\\tfrac12', '\\frac{2}{4}'],
  ['\\frac{10}{9}', '10/9'],
  ['-\\frac{10}{9}', '-10/9'],
  ['0.4', '.4'],
  ['1000', '1,000'],
  ['7425000', '7,425,000'],
  ['1000.0', '1,000.0'],
  ['10,\\!080', '10080'],
  ['14{,}916', '14916'],
  ['28\\%', '28'],
  ['90^\\circ', '90'],
  ['90^{\\circ}', '90°'],
  ['\\$18.90', '18.9'],
  ['5.4 \\text{ cents}', '5.4'],
  ['15\\mbox{ cm}^2', '15'],
  ['18 dollars', '18'],
  ['\\frac{270}7\\text{ degrees}', '\\frac{270}{7}'],
  ['x = 3', '3'],
  ['k = \\frac{1}{3}', '1/3'],
  ['\\left( 3, \\frac{\\pi}{2} \\right)', '(3,\\frac{\\pi}{2})'],
  ['3\\sqrt{13}', '\\sqrt{117}'],
  ['\\frac{\\sqrt{3}}{3}', '\\frac{1}{\\sqrt{3}}'],
  ['2\\sqrt{5}', '\\sqrt{20}'],
  ['\\sqrt3', '\\sqrt{3}'],
  ['x^2 - 1', '(x-1)(x+1)'],
  ['(a+5)(b+2)', 'ab + 2a + 5b + 10'],
  ['\\cot x', '\\frac{\\cos x}{\\sin x}'],
  ['2-2p', '-2p+2'],
  ['-2 + 7i', '7i - 2'],
  ['e^{i\\pi}', '-1'],
  ['\\log_2 8', '3'],
  ['137 \\frac{1}{2}', '137.5'],
  ['1\\frac{4}{5}', '9/5'],
  ['\\text{(B)}', 'B'],
  ['(C)', '\\text{C}'],
  ['\\text{Evelyn}', 'evelyn'],
  ['204_5', '204_{5}'],
  ['3, 5, 7', '7,5,3'],
  ['\\{1,2\\}', '\\{2,1\\}'],
  ['1 \\pm \\sqrt{19}', '1-\\sqrt{19}, 1+\\sqrt{19}'],
  ['\\{1\\pm\\sqrt{5},-2\\}', '-2, 1+\\sqrt5, 1-\\sqrt5'],
  ['(-\\infty, 0]', '(-\\infty,0]'],
  ['(2,\\infty)', '(2, \\infty)'],
  ['x \\in [-2,7]', '[-2,7]'],
  ['(-\\infty, 2) \\cup (3, \\infty)', '(3,\\infty)\\cup(-\\infty,2)'],
  ['\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}', '\\begin{bmatrix} -1 & 0 \\\\ 0 & -1 \\end{bmatrix}'],
  ['\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}', '(0.2, -3.6)'],
  ['5x - 7y + 11z + 4 = 0', '-10x + 14y - 22z - 8 = 0'],
  ['y = 2x + 3', '2x+3'],
  ['6.72 \\times 10^{-5}', '.0000672'],
  ['3.14159265', '\\pi'],
  ['\\frac{20000}{\\pi}', '20000/\\pi'],
  ['2', '\\boxed{2}'],
  ['−5', '-5'],
  ['\\binom{10}{3}', '120'],
];

const DIFFERENT: [string, string][] = [
  ['\\frac{1}{3}', '0.333'],
  ['0.33', '1/3'],
  ['1000001', '1000000'],
  ['192000001', '192,000,000'],
  ['3.14', '\\pi'],
  ['(0,9)', '[0,9)'],
  ['[0,9)', '[0,1)'],
  ['(1,2)', '(2,1)'],
  ['x^2+1', '(x-1)(x+1)'],
  ['2-2p', '2+2p'],
  ['\\sqrt{2}', '1.41'],
  ['-2 + 7i', '-2 - 7i'],
  ['\\text{(B)}', 'C'],
  ['\\text{Evelyn}', '\\text{Navin}'],
  ['3, 5, 7', '3, 5'],
  ['\\{1,2\\}', '\\{1,2,3\\}'],
  ['1 \\pm \\sqrt{19}', '1+\\sqrt{19}'],
  ['(-\\infty, 0]', '(-\\infty, 0)'],
  ['\\infty', '-\\infty'],
  ['5x - 7y + 11z + 4 = 0', '5x - 7y + 11z - 4 = 0'],
  ['204_5', '204_6'],
  ['18', '18.5'],
  ['0', '1'],
  ['\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', '\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}'],
  ['1/0', '0'],
  ['137 \\frac{1}{2}', '68.5'],
  ['x', 'y'],
  ['', '1'],
];

test('equivalent answers grade equal', () => {
  for (const [a, b] of EQUIVALENT) {
    assert.equal(answersEquivalent(a, b), true, `${a}  ≡  ${b}`);
    assert.equal(answersEquivalent(b, a), true, `${b}  ≡  ${a} (symmetric)`);
  }
});

test('different answers grade unequal', () => {
  for (const [a, b] of DIFFERENT) {
    assert.equal(answersEquivalent(a, b), false, `${a}  ≠  ${b}`);
    assert.equal(answersEquivalent(b, a), false, `${b}  ≠  ${a} (symmetric)`);
  }
});

test('floatPrecision: a decimal side rounds both sides to that many places (Math-Verify float_rounding)', () => {
  // π = 3.14159265…: 3.141593 at 6 places, 3.1416 at 4.
  assert.equal(answersEquivalent('3.1416', '\\pi'), false);
  assert.equal(answersEquivalent('3.1416', '\\pi', { floatPrecision: 4 }), true);
  // 1/3 = 0.333333… : 0.3333 matches at 4 places, not at 6; integers and fractions stay exact.
  assert.equal(answersEquivalent('0.3333', '1/3', { floatPrecision: 4 }), true);
  assert.equal(answersEquivalent('0.3333', '1/3'), false);
  assert.equal(answersEquivalent('1000001', '1000000', { floatPrecision: 0 }), false);
  assert.equal(answersEquivalent('0.0833333', '\\frac{1}{12}'), true); // 1/12 = 0.08333333…
  assert.equal(answersEquivalent('4.123106', '\\sqrt{17}'), true); // √17 = 4.1231056…
});

test('symbolic: false keeps only string and exact comparison', () => {
  assert.equal(answersEquivalent('\\frac{1}{2}', '0.5', { symbolic: false }), true);
  assert.equal(answersEquivalent('x^2-1', '(x-1)(x+1)', { symbolic: false }), false);
});

test('a CAS computation that would run away ends within the deadline and the grader keeps working', () => {
  const start = Date.now();
  // mathjs would compute this binomial with a ~5·10^8-step loop: the worker refuses it up front (and one still
  // running at the deadline is terminated, test/rewards/math-exact-powers.test.ts).
  assert.equal(answersEquivalent('1', '\\binom{1000000000}{500000000}', { timeoutMs: 300 }), false);
  assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
  assert.equal(answersEquivalent('\\sqrt{8}', '2\\sqrt{2}'), true);
});

test('gradeMath and mathReward grade whole responses', async () => {
  assert.equal(gradeMath('Thus the total is $\\boxed{\\frac{36}{2}}$ dollars.', '18'), true);
  assert.equal(gradeMath('The answer is 19.', '#### 18'), false);
  assert.equal(gradeMath('no answer here', '18', { fallbackLastNumber: false }), false);
  const reward = mathReward();
  assert.equal(await reward('\\boxed{27}', { answer: 27 }), 1); // AMC stores 27.0 as a number
  assert.equal(await reward('\\boxed{26}', { answer: 27 }), 0);
  // ORZ's rule (a truncated completion scores 0) is the require_stop batch transform alone (test/trainer/presets-e2e.test.ts)
  assert.equal(await reward('\\boxed{27}', { answer: '27', finish_reason: 'length' }), 1);
  assert.throws(
    () => mathReward({ requireStop: true } as never),
    /option 'requireStop' moved to .*algorithm\.require_stop: true/,
  );
  assert.throws(
    () => buildRewards([{ type: 'math', options: { requireStop: true } }]),
    /rewards\[0\]\.options\.requireStop: moved to the batch transform algorithm\.require_stop: true/,
  );
  assert.throws(() => reward('\\boxed{1}', {}), /no string or number field 'answer'/);
});
