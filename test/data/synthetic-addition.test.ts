import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  additionProblem,
  additionTrainProblems,
  additionHeldOutProblems,
  answerFromSteps,
  columnSteps,
  embeddedTask,
  embeddedTasks,
  embeddedTaskSplits,
  isEmbeddedData,
  isHeldOutPair,
} from '../../src/data/synthetic/index.ts';
import type { EmbeddedTasks } from '../../src/data/index.ts';
import { hasThinkAnswerFormat } from '../../src/rewards/format.ts';
import { mathReward } from '../../src/rewards/math/grade.ts';
import { Rng } from '../../src/util/rng.ts';

/** Independent check of a trace: parse every step and redo the column arithmetic from the operands' digits. */
function checkTrace(a: number, b: number, completion: string): { answer: string; slips: number } {
  const m = /^<think>(.*)<\/think><answer>(\d+)<\/answer>$/.exec(completion);
  assert.ok(m, `not R1 format: ${completion}`);
  const steps = m[1].split(',');
  const digitsA = [...String(a)].reverse(),
    digitsB = [...String(b)].reverse();
  assert.equal(steps.length, Math.max(digitsA.length, digitsB.length), completion);
  let carry = 0,
    slips = 0;
  const sums: number[] = [];
  steps.forEach((s, i) => {
    const p = /^(\d)\+(\d)(\+1)?=(\d+)$/.exec(s);
    assert.ok(p, `step ${s}`);
    assert.equal(Number(p[1]), Number(digitsA[i] ?? 0), `${a}+${b} column ${i} first digit`);
    assert.equal(Number(p[2]), Number(digitsB[i] ?? 0), `${a}+${b} column ${i} second digit`);
    const used = p[3] ? 1 : 0;
    assert.ok(used <= carry, `${completion}: a carry written where none is due`);
    if (used < carry) slips++;
    assert.equal(Number(p[4]), Number(p[1]) + Number(p[2]) + used, `${completion}: step sum`);
    sums.push(Number(p[4]));
    carry = Number(p[4]) >= 10 ? 1 : 0;
  });
  // the answer follows from the steps, written most significant column first
  const expected =
    String(sums[sums.length - 1]) +
    sums
      .slice(0, -1)
      .reverse()
      .map((s) => s % 10)
      .join('');
  assert.equal(m[2], expected, completion);
  return { answer: m[2], slips };
}

test('reference traces: every column step and the answer agree with independent arithmetic', () => {
  assert.equal(additionProblem(37, 48).completion, '<think>7+8=15,3+4+1=8</think><answer>85</answer>');
  assert.equal(additionProblem(37, 48).prompt, '37+48=');
  assert.equal(additionProblem(999, 1).completion, '<think>9+1=10,9+0+1=10,9+0+1=10</think><answer>1000</answer>');
  assert.equal(additionProblem(0, 0).completion, '<think>0+0=0</think><answer>0</answer>');
  const rng = new Rng(5);
  for (let i = 0; i < 3000; i++) {
    const a = rng.int(10 ** (1 + rng.int(6))),
      b = rng.int(10 ** (1 + rng.int(6)));
    const p = additionProblem(a, b);
    const { answer, slips } = checkTrace(a, b, p.completion);
    assert.equal(slips, 0);
    assert.equal(BigInt(answer), BigInt(a) + BigInt(b), `${a}+${b}`);
    assert.equal(p.answer, String(a + b));
    assert.equal(answerFromSteps(columnSteps(a, b)), p.answer);
    assert.ok(hasThinkAnswerFormat(p.completion));
  }
});

test('the math reward scores reference completions 1 and a wrong answer 0', () => {
  const reward = mathReward();
  for (const p of additionTrainProblems(200, 3)) {
    assert.equal(reward(p.completion, p), 1, p.completion);
    assert.equal(reward(p.completion.replace(/<answer>\d+/, '<answer>1234567'), p), 0);
  }
});

test('draws are deterministic, distinct, in range, and training never meets the held-out split', () => {
  const train = additionTrainProblems(3000, 11);
  assert.deepEqual(train, additionTrainProblems(3000, 11));
  assert.notDeepEqual(train.slice(0, 20), additionTrainProblems(20, 12));
  assert.deepEqual(
    additionHeldOutProblems(50, 1),
    additionHeldOutProblems(200, 1).slice(0, 50),
    'a smaller draw is a prefix of a larger one',
  );
  const key = (p: { a: number; b: number }) => `${p.a}+${p.b}`;
  assert.equal(new Set(train.map(key)).size, train.length);
  const heldOut = [1, 2, 3].flatMap((s) => additionHeldOutProblems(500, s));
  const trainKeys = new Set([4, 5, 6].flatMap((s) => additionTrainProblems(3000, s)).map(key));
  for (const p of heldOut) {
    assert.ok(isHeldOutPair(p.a, p.b));
    assert.ok(!trainKeys.has(key(p)), `held-out ${key(p)} in a training draw`);
  }
  for (const p of train) assert.ok(p.a < 1000 && p.b < 1000 && !isHeldOutPair(p.a, p.b));
  // the split is ~10% of all pairs
  let held = 0;
  for (let a = 0; a < 300; a++) for (let b = 0; b < 300; b++) held += isHeldOutPair(a, b) ? 1 : 0;
  assert.ok(Math.abs(held / 90_000 - 0.1) < 0.005, `held-out share ${held / 90_000}`);
  assert.ok(additionTrainProblems(100, 1, { digits: 2 }).every((p) => p.a < 100 && p.b < 100));
  assert.throws(() => additionTrainProblems(9000, 1, { digits: 2 }), /cannot draw 9000 distinct/);
});

test('a sloppy teacher forgets carries at its rate, with self-consistent traces and true gold answers', () => {
  const clean = additionTrainProblems(4000, 21);
  const sloppy = additionTrainProblems(4000, 21, { carrySlipRate: 0.7 });
  let due = 0,
    slipped = 0;
  sloppy.forEach((p, i) => {
    assert.equal(p.prompt, clean[i].prompt, 'the same problems, whatever the slip rate');
    assert.equal(p.answer, String(p.a + p.b));
    const { answer, slips } = checkTrace(p.a, p.b, p.completion);
    slipped += slips;
    due += slips + (p.completion.match(/\d\+\d\+1=/g)?.length ?? 0);
    assert.equal(answer === p.answer, slips === 0, p.completion);
  });
  assert.ok(Math.abs(slipped / due - 0.7) < 0.03, `slip rate ${slipped / due} over ${due} due carries`);
  assert.deepEqual(
    embeddedTask('embedded:addition')
      .heldOut(30, 1, { carry_slip_rate: 0.9 })
      .map((p) => p.completion),
    additionHeldOutProblems(30, 1).map((p) => p.completion),
    'held-out references are always correct',
  );
});

test('the embedded task registry resolves names and rejects unknown tasks and options by name', () => {
  assert.ok(isEmbeddedData('embedded:addition') && !isEmbeddedData('data/x.jsonl'));
  const task = embeddedTask('embedded:addition');
  assert.equal(task, embeddedTasks.addition);
  assert.equal(task.train(5, 1).length, 5);
  assert.equal(task.maxCompletionTokens(), 33);
  // tags are one token each, plus EOS
  const tokens = (c: string) => c.replace(/<\/?(think|answer)>/g, 'T').length + 1;
  assert.equal(Math.max(...task.train(5000, 2).map((p) => tokens(p.completion))), 33);
  assert.throws(() => embeddedTask('embedded:nope'), /unknown embedded task 'nope'.*embedded:addition/);
  assert.throws(() => task.train(5, 1, { digitz: 2 }), /unknown option 'digitz'/);
  assert.throws(() => task.train(5, 1, { digits: 'two' }), /option 'digits' must be a number/);
});

test("the task registry in the RL trainer's shape: fixed-size train and held-out splits per seed", () => {
  const tasks: EmbeddedTasks = embeddedTaskSplits;
  const train = tasks.addition('train', 3),
    test = tasks.addition('test', 3);
  assert.equal(train.length, 20_000);
  assert.equal(test.length, 500);
  assert.deepEqual(test, additionHeldOutProblems(500, 3));
  assert.ok(
    test.every((p) => isHeldOutPair(Number(p.a), Number(p.b))) &&
      train.every((p) => !isHeldOutPair(Number(p.a), Number(p.b))),
  );
});
