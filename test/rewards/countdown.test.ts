import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateCountdownEquation, scoreCountdown, countdownReward } from '../../src/rewards/countdown.ts';

test('the equation parser evaluates + − × ÷ and parentheses exactly and lists the numbers used', () => {
  const r = evaluateCountdownEquation('(96 - 74) * 7 / 37 + 1');
  assert.ok(r);
  assert.equal(r.value.toString(), `${22 * 7 + 37}/37`);
  assert.deepEqual(r.numbers, [96, 74, 7, 37, 1]);
  assert.equal(evaluateCountdownEquation('6 ÷ 4 × 2')!.value.toString(), '3');
  assert.equal(evaluateCountdownEquation('-(3 - 5)')!.value.toString(), '2');
});

test('the parser refuses anything but arithmetic — no eval escape', () => {
  for (const s of [
    '1 + ',
    '2 ** 3',
    '(1 + 2',
    'Math.max(1,2)',
    'process.exit()',
    '1; 2',
    '3 = 3',
    '1.5 + 2',
    '1/0',
    'x + 1',
  ]) {
    assert.equal(evaluateCountdownEquation(s), null, s);
  }
});

test('TinyZero scoring: 0 without <answer>, 0.1 for a wrong or malformed answer, 1 when correct', () => {
  const nums = [96, 7, 37, 74, 5];
  const target = 7 * (96 - 74) - 37; // = 117, computed by hand: 7*22 = 154, 154 - 37 = 117
  assert.equal(scoreCountdown('<think>..</think><answer>7 * (96 - 74) - 37</answer>', [7, 96, 74, 37], target), 1);
  assert.equal(
    scoreCountdown('<answer>7 * (96 - 74) - 37</answer>', nums, target),
    0.1,
    'same value but does not use every given number',
  );
  assert.equal(
    scoreCountdown('<answer>7 * (96 - 74) - 37 + 37 - 37</answer>', [7, 96, 74, 37], target),
    0.1,
    'a number used twice',
  );
  assert.equal(scoreCountdown('<answer>7 * (96 - 74) + 37</answer>', [7, 96, 74, 37], target), 0.1, 'wrong value');
  assert.equal(scoreCountdown('<answer>7 * (96 - 74 - 37</answer>', [7, 96, 74, 37], target), 0.1, 'malformed');
  assert.equal(scoreCountdown('7 * (96 - 74) - 37', [7, 96, 74, 37], target), 0, 'no answer tag');
  assert.equal(
    scoreCountdown('<answer>1</answer> then <answer>7 * (96 - 74) - 37</answer>', [7, 96, 74, 37], target),
    1,
    'last answer counts',
  );
  assert.equal(scoreCountdown('<answer>(1 + 2) / 3</answer>', [1, 2, 3], 1), 1, 'division is exact');
});

test('countdownReward reads numbers/nums and target from the sample', async () => {
  const reward = countdownReward();
  assert.equal(await reward('<answer>30 - (100 - 93)</answer>', { numbers: [30, 100, 93], target: 23 }), 1);
  assert.equal(await reward('<answer>30 - (100 - 93)</answer>', { nums: [30, 100, 93], target: 23 }), 1);
  assert.equal(await reward('<answer>30 - (100 - 93)</answer>', { nums: '30,100,93', target: '23' }), 1);
  assert.throws(() => reward('<answer>1</answer>', { target: 1 }), /numbers must be a list/);
});
