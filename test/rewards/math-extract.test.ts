import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer, lastBoxed } from '../../src/rewards/math/extract.ts';
import { goldAnswer } from '../../src/rewards/math/grade.ts';

test('lastBoxed takes the last box and balances nested braces', () => {
  assert.equal(lastBoxed('first \\boxed{1} then \\boxed{\\frac{a}{b+{c}}} end'), '\\frac{a}{b+{c}}');
  assert.equal(lastBoxed('\\fbox{7}'), '7');
  assert.equal(lastBoxed('so \\boxed 5$.'), '5');
  assert.equal(lastBoxed('unclosed \\boxed{3'), null);
  assert.equal(lastBoxed('no box'), null);
});

test('extractAnswer: each marker and their priority', () => {
  assert.equal(extractAnswer('<think>try \\boxed{1}</think><answer>\\boxed{42}</answer>'), '42');
  assert.equal(extractAnswer('<answer> 17 </answer>'), '17');
  // Boxes that a short "and" / comma separates are one answer (Math-Verify); a box revised later is not.
  assert.equal(extractAnswer('work... \\boxed{2} and finally \\boxed{3}.'), '2, 3');
  assert.equal(extractAnswer('first \\boxed{2}. Checking the algebra once more I find it is \\boxed{3}.'), '3');
  assert.equal(extractAnswer('\\boxed{1} no no no no no \\boxed{2}'), '2');
  assert.equal(extractAnswer('Janet makes 9 * 2 = 18\n#### 18'), '18');
  assert.equal(extractAnswer('So the answer is 3.5. Done.'), '3.5');
  assert.equal(extractAnswer('The final answer is $\\$1,000$. I hope it is correct.'), '\\$1,000');
  assert.equal(extractAnswer('Answer: x = 2\n'), 'x = 2');
  assert.equal(extractAnswer('The answer is: \\(\\frac{1}{2}\\)'), '\\frac{1}{2}');
});

test('extractAnswer prefers the text after </think>, and the last-number fallback can be switched off', () => {
  assert.equal(extractAnswer('<think>maybe \\boxed{4}</think> It is \\boxed{5}.'), '5');
  assert.equal(extractAnswer('<think>it is \\boxed{4}</think>'), '4');
  assert.equal(extractAnswer('I computed 12 then 1,250 apples'), '1250');
  assert.equal(extractAnswer('I computed 12 then 1,250 apples', { fallbackLastNumber: false }), null);
  assert.equal(extractAnswer('ratio 3 / 4'), '3/4');
  assert.equal(extractAnswer('no numbers at all'), null);
});

test('goldAnswer accepts a bare answer or a full reference solution', () => {
  assert.equal(goldAnswer('She makes $<<9*2=18>>18.\n#### 1,018'), '1,018');
  assert.equal(goldAnswer('Thus $x = \\boxed{\\frac{3}{4}}$.'), '\\frac{3}{4}');
  assert.equal(goldAnswer(' 72 '), '72');
});
