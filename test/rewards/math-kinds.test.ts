// Each kind of answer the grader reads, with verdicts worked out by hand: forms that denote the same
// object grade true, near misses false. gradeMath(prediction, gold).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { gradeMath, mathReward } from '../../src/rewards/math/grade.ts';
import { answersEquivalent } from '../../src/rewards/math/equivalence.ts';
import { shutdownSymbolicWorker } from '../../src/rewards/math/symbolic.ts';
import { buildRewards } from '../../src/rewards/registry.ts';
import { GrpoError } from '../../src/errors.ts';

after(() => shutdownSymbolicWorker());

function check(rows: [prediction: string, gold: string, expected: boolean][]): void {
  for (const [prediction, gold, expected] of rows)
    assert.equal(gradeMath(prediction, gold), expected, `${prediction}  vs gold  ${gold}`);
}

test('malformed and styled LaTeX around a fraction: all 1/3', () => {
  check([
    ['$\\frac13$', '1/3', true],
    ['$\\dfrac{1}{3}$', '1/3', true],
    ['$\\cfrac{1}{3}$', '1/3', true],
    ['$\\left( \\frac{1}{3} \\right)$', '1/3', true],
    ['$\\frac{1}{3} \\text{meters}$', '1/3', true],
    ['$k = \\frac{1}{3}$', '1/3', true],
    ['$\\sqrt3$', '\\sqrt{3}', true],
    ['$\\frac{1}{4}$', '1/3', false],
  ]);
});

test('numbers in prose: thousands separators, decimal comma, digits inside words', () => {
  check([
    ['It costs 1 000 in total', '1000', true],
    ['the result is 1000,99', '1000.99', true],
    ['we get 1,22', '1.22', true],
    ['so 7,425,000 people', '7425000', true],
    ['code AZYUK2A', '2', false],
    ['the value is 1,23', '1.22', false],
  ]);
});

test('relations and inequalities: same solution set, flipped or scaled', () => {
  check([
    ['Therefore $x \\geq 5$.', 'x >= 5', true], // same relation, two spellings
    ['$5 \\geq x$', 'x \\leq 5', true], // read right to left
    ['$-x > -1$', 'x < 1', true], // multiplied by −1, direction flips
    ['$2x \\le 8$', 'x \\le 4', true], // scaled by 2 > 0
    ['$x \\le 5$', 'x \\geq 5', false],
    ['$x > -1$', 'x < 1', false],
    ['$x < 5$', 'x \\le 5', false],
    ['$x \\neq 3$', 'x != 3', true],
    ['$y=-\\frac{1}{2}x+\\frac{3}{4}$', '2x+4y-3=0', true], // 2x + 4y − 3 = 4·(y + x/2 − 3/4)
    ['$y = 2x + 1$', '2x+4y-3=0', false],
  ]);
});

test('intervals, sets and tuples', () => {
  check([
    ['$[0,1)$', '[0,1)', true],
    ['$[0,9)$', '(0,9)', false],
    ['$(0,9]$', '(0,9)', false],
    ['$x \\in [-2,7]$', '-2 \\le x \\le 7', true], // a gold relation takes a predicted interval
    ['$(0,1)$', '0<f(x)<1', true],
    ['$(-793, 10)$', '-793 < a < 10', true],
    ['$[0,1)$', '0<x<1', false],
    ['$(5, \\infty)$', 'x > 5', true],
    ['$[5, \\infty)$', 'x > 5', false],
    ['$\\{3, 1, 2\\}$', '\\{1,2,3\\}', true],
    ['$\\{1, 2\\}$', '\\{1,2,3\\}', false],
    ['$(2,1), (1,2)$', '(1,2),(2,1)', true],
    ['$(2,1)$', '(1,2)', false],
    ['\\boxed{1}, \\boxed{2} and \\boxed{3}', '\\{1,2,3\\}', true],
    ['$\\boxed{1,2,3}$', '$1$ and $2$ and $3$', true],
    ['$\\boxed{-2,1}$', '1 \\text{ and } -2', true],
    ['$\\boxed{1,2}$', '\\boxed{1} no no no no no \\boxed{2}', false],
  ]);
});

test('set-relation comparison follows Math-Verify: a predicted relation answers a gold interval only when allowed', () => {
  assert.equal(gradeMath('$-2 \\le x \\le 7$', 'x \\in [-2,7]'), false);
  assert.equal(gradeMath('$-2 \\le x \\le 7$', 'x \\in [-2,7]', { allowSetRelationComp: true }), true);
  assert.equal(gradeMath('$-2 \\le x < 7$', 'x \\in [-2,7]', { allowSetRelationComp: true }), false);
});

test('matrices: pmatrix, bmatrix and array agree entry by entry, numbers against fractions', () => {
  check([
    ['$\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}$', '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', true],
    [
      '$\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]$',
      '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}',
      true,
    ],
    ['$\\begin{pmatrix}0.5 & 0.25\\end{pmatrix}$', '\\begin{pmatrix}\\frac12 & \\frac14\\end{pmatrix}', true],
    ['$\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$', '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', false],
  ]);
});

test('symbolic identities and numeric rounding', () => {
  check([
    ['$\\sec^2(y)$', '\\tan^2(y)+1', true],
    ['$\\frac{x}{7}+\\frac{2}{7}$', '\\frac{x+2}{7}', true],
    ['$0.0833333$', '\\frac{1}{12}', true], // 1/12 = 0.0833333… rounds to 0.083333 at 6 places
    ['$0.0833$', '\\frac{1}{12}', false],
    ['$\\frac{1+\\sqrt5}{2}$', '2', false],
    ['$4\\sqrt{2}$', '4', false],
  ]);
  // √17 = 4.12310562…: equal at 5 places, not at 6 when the decimal stops at 4.12311.
  assert.equal(gradeMath('$\\sqrt{17}$', '4.12311', { floatPrecision: 5 }), true);
  assert.equal(gradeMath('$\\sqrt{17}$', '4.12311'), false);
});

test('labels around the answer, text answers, prose', () => {
  check([
    ['$(3,2)$', '(p,q)=(3,2)', true],
    ['$11:21$', 'V_1:V_2=11:21', true],
    ['$\\boxed{4, 5}$', 'AB=4,CD=5', true],
    ['$E$', '\\text{E}', true],
    ['$d$', '\\text{E}', false],
    ['$Even$', '\\text{Even}', true],
    ['Final Answer: The largest $n$ is 34.', '34', true],
    ['Final Answer: The largest $n$ is 35.', '34', false],
    ['$x = 5+5+1 = 11$', 'x = 11', true],
    ['$11a+c$', '7 = 11a+c', false],
  ]);
});

test('strict: variables matter unless switched off', () => {
  assert.equal(gradeMath('$f(y)$', 'f(x)'), false);
  assert.equal(gradeMath('$f(y)$', 'f(x)', { strict: false }), true);
  assert.equal(gradeMath('$y = 3$', 'x = 3'), false);
  assert.equal(gradeMath('$y = 3$', 'x = 3', { strict: false }), true);
});

test('the math reward validates its options: an unknown or ill-typed one is one clear error', () => {
  assert.throws(
    () => mathReward({ floatPrecison: 4 } as never),
    (e: unknown) =>
      e instanceof GrpoError && /unknown option 'floatPrecison'/.test(e.message) && /floatPrecision/.test(e.message),
  );
  assert.throws(
    () => buildRewards([{ type: 'math', options: { strict: 'yes' } }]),
    /rewards\[0\]\.options\.strict: must be true or false/,
  );
  assert.throws(
    () => buildRewards([{ type: 'math', options: { floatPrecision: 2.5 } }]),
    /rewards\[0\]\.options\.floatPrecision: must be an integer from 0 to 15/,
  );
  assert.throws(
    () => buildRewards([{ type: 'kimi_length', options: { correctnessOptions: { timeout: 1 } } }]),
    /correctnessOptions: Unrecognized key: "timeout"/,
  );
  const [spec] = buildRewards([
    { type: 'math', options: { floatPrecision: 4, strict: false, allowSetRelationComp: true, timeoutMs: 2000 } },
  ]);
  assert.equal((spec as { fn: (c: string, s: object) => number }).fn('$\\pi$', { answer: '3.1416' }), 1);
});

test('one deadline per grading call bounds pathological inputs', () => {
  const within = (label: string, budgetMs: number, run: () => boolean, expected: boolean) => {
    const start = Date.now();
    assert.equal(run(), expected, label);
    const ms = Date.now() - start;
    console.log(`${label}: ${ms} ms (budget ${budgetMs} ms)`);
    // Generous margin: the bound is the budget, not a speed number (slow shared machines).
    assert.ok(ms < budgetMs + 4000, `${label}: ${ms} ms for a ${budgetMs} ms budget`);
  };
  const ints = Array.from({ length: 4000 }, (_, i) => i + 1);
  const set = `\\{${ints.join(', ')}\\}`;
  const shuffled = `\\{${[...ints].reverse().join(', ')}\\}`;
  within('4,000-integer set, reordered', 3000, () => answersEquivalent(shuffled, set, { timeoutMs: 3000 }), true);
  within(
    '4,000-integer set, one changed',
    3000,
    () => answersEquivalent(shuffled.replace('4000', '4001'), set, { timeoutMs: 3000 }),
    false,
  );
  // Ten would-be runaway CAS comparisons (mathjs loops ~5·10^8 steps on each binomial; the worker now refuses them) share one budget.
  const runaway = `\\{${Array.from({ length: 10 }, (_, i) => `\\binom{1000000000}{50000000${i}}`).join(', ')}\\}`;
  within(
    'ten runaway comparisons',
    1500,
    () => answersEquivalent(runaway, `\\{${ints.slice(0, 10).join(', ')}\\}`, { timeoutMs: 1500 }),
    false,
  );
  const long = 'word '.repeat(20_000) + '\\boxed{' + '1+'.repeat(20_000) + '1}';
  within('100k-character response', 3000, () => gradeMath(long, '5', { timeoutMs: 3000 }), false);
  within(
    '100k characters of prose and dollars',
    3000,
    () => gradeMath('$5 each and $'.repeat(8000) + ' so 7', '7', { timeoutMs: 3000 }),
    true,
  );
  const nested = '{'.repeat(50_000) + '1' + '}'.repeat(50_000);
  within('deeply nested braces', 3000, () => gradeMath(`\\boxed{${nested}}`, '2', { timeoutMs: 3000 }), false);
  const nestedTuple = '('.repeat(5000) + '1,2' + ')'.repeat(5000);
  within('deeply nested tuple', 3000, () => answersEquivalent(nestedTuple, '(1,3)', { timeoutMs: 3000 }), false);
});
