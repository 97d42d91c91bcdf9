// Powers too large to write out are compared by exponent arithmetic, and no such answer — nor a runaway CAS
// comparison before it — makes a grading call outlast its budget (issue 27 item 9).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { answersEquivalent, prepareGrading } from '../../src/rewards/math/equivalence.ts';
import { gradeMath } from '../../src/rewards/math/grade.ts';
import { compareSymbolically, shutdownSymbolicWorker } from '../../src/rewards/math/symbolic.ts';

after(() => shutdownSymbolicWorker());

test('huge powers compare exactly, by their exponents', () => {
  // 9^9 = 387420489 (9^3 = 729, 729^3 = 387420489), so 9^{9^9} = 9^{387420489} and ≠ 9^{387420490}.
  assert.equal(answersEquivalent('9^{9^{9}}', '9^{387420489}'), true);
  assert.equal(answersEquivalent('9^{387420489}', '9^{9^9}'), true);
  assert.equal(answersEquivalent('9^{9^9}', '9^{387420490}'), false);
  assert.equal(answersEquivalent('9^{9^9}', '3^{774840978}'), true); // 9 = 3^2
  assert.equal(answersEquivalent('9^{9^9}', '27^{258280326}'), true); // 27 = 3^3, 774840978 = 3·258280326
  assert.equal(answersEquivalent('9^{9^9}+1', '9^{387420489}+1'), true);
  assert.equal(answersEquivalent('9^{9^9}+1', '9^{9^9}+2'), false);
  assert.equal(answersEquivalent('-9^{9^9}', '9^{9^9}'), false);
  // Common bases: 4^50 = (2^2)^50 = 2^100, 9^100 = 3^200.
  assert.equal(answersEquivalent('2^{100}', '4^{50}'), true);
  assert.equal(answersEquivalent('3^{200}', '9^{100}'), true);
  assert.equal(answersEquivalent('2^{1000}+1', '2^{1000}'), false);
  assert.equal(answersEquivalent('2^{100000}', '4^{50000}'), true);
  assert.equal(answersEquivalent('2^{100000}', '4^{50000} + 1'), false);
  // Terms whose powers are near each other are summed exactly: 2·2^E + 2^E = 3·2^E, 2^{E+1} = 2·2^E.
  assert.equal(answersEquivalent('2\\cdot 2^{10^{6}}', '2^{1000001}'), true);
  assert.equal(answersEquivalent('2^{10^6} + 2^{10^6} + 2^{10^6}', '3 \\cdot 2^{1000000}'), true);
  assert.equal(answersEquivalent('\\frac{2^{1000001}}{2}', '2^{1000000}'), true);
  assert.equal(answersEquivalent('\\left(\\frac{1}{3}\\right)^{30000}', '3^{-30000}'), true);
  // 2^{-10000} and 3^{-10000} are both 0 to a double; exactly they differ.
  assert.equal(answersEquivalent('2^{-10000}', '3^{-10000}'), false);
  // Far-apart magnitudes: 3^{10^6} outweighs 2^{10^6} + 1 by far.
  assert.equal(answersEquivalent('3^{10^6}', '2^{10^6} + 1'), false);
  assert.equal(answersEquivalent('6^{10^6}', '2^{10^6}\\cdot 3^{10^6}'), true);
  // A base that is itself a sum of modest terms is one number: (2^{4000} + 1)^{10^6}·(2^{4000} + 1).
  assert.equal(answersEquivalent('(2^{4000}+1)^{1000000}\\cdot(2^{4000}+1)', '(2^{4000}+1)^{1000001}'), true);
  assert.equal(answersEquivalent('(2^{4000}+1)^{1000000}', '(2^{4000}+1)^{1000000}+1'), false);
  assert.equal(answersEquivalent('2^{2^{300}}', '4^{2^{299}}'), true); // 4^{2^{299}} = 2^{2·2^{299}}
});

test('sets of huge powers stay inside the budget, call after call', () => {
  prepareGrading({}); // the process's first CAS worker loads outside any budget
  const items = (from: number) => Array.from({ length: 10 }, (_, i) => `9^{9^{9}}+${from + i}`).join(', ');
  const budgetMs = 2000;
  // Before: each call ran to its deadline while the CAS expanded 9^387420489, and the next call first waited for
  // a fresh worker outside the budget (8.2–8.4 s per call at a 5 s budget).
  const start = Date.now();
  for (let round = 0; round < 3; round++) {
    assert.equal(gradeMath(`\\boxed{\\{${items(1)}\\}}`, `\\{${items(2)}\\}`, { timeoutMs: budgetMs }), false);
    assert.equal(gradeMath(`\\boxed{\\{${items(1)}\\}}`, `\\{${items(1)}\\}`, { timeoutMs: budgetMs }), true);
  }
  const ms = Date.now() - start;
  console.log(`six set gradings: ${ms} ms (budget ${budgetMs} ms each)`);
  assert.ok(ms < budgetMs + 1500, `six set gradings took ${ms} ms`);
});

test('the CAS worker refuses unbounded constant work instead of running to the deadline', () => {
  prepareGrading({});
  for (const [a, b] of [
    ['((9 ^ (9 ^ 9)) + 1)', '((9 ^ (9 ^ 9)) + 2)'], // simplify folded 9^387420489 exactly: 52 s
    ['(1.0001 ^ 100000000)', '2'],
    ['combinations(1000000000, 500000000)', '1'], // mathjs loops 5·10^8 times
  ]) {
    const start = Date.now();
    assert.equal(compareSymbolically(a, b, 'equal', 1e-6, 10_000), 'unknown', a);
    assert.ok(Date.now() - start < 5000, `${a}: ${Date.now() - start} ms`);
  }
});

test('after a runaway comparison is stopped, later calls still end within their own budget', () => {
  prepareGrading({});
  // 20,000 terms take mathjs far longer than 5 ms to parse and evaluate, so this comparison is stopped.
  const big = Array.from({ length: 20_000 }, (_, k) => `sin(v_x * ${k + 1})`).join(' + ');
  const budgetMs = 500;
  let total = 0;
  for (let round = 0; round < 3; round++) {
    compareSymbolically(big, `${big} + 1`, 'equal', 1e-6, 5);
    const start = Date.now();
    gradeMath('\\boxed{x^2-1}', '(x-1)(x+1)', { timeoutMs: budgetMs }); // needs the CAS; may or may not get it in time
    total += Date.now() - start;
  }
  console.log(`three gradings right after a stopped worker: ${total} ms (budget ${budgetMs} ms each)`);
  // Before: each waited for a fresh worker (1–4 s) outside its budget.
  assert.ok(total < 3 * budgetMs + 1500, `three gradings took ${total} ms`);
});
