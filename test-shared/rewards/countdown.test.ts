// Countdown reward on the TinyZero test split and the d1 3-number set. Correct equations come from
// a brute-force solver written here (floating point, independent of the reward's rational parser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreCountdown } from '../../src/rewards/index.ts';
import { loadDataset } from '../../src/data/index.ts';
import { sharedFile } from '../data/shared-path.ts';

type Term = { value: number; expr: string };

/** Some expression using every number once that equals target, or null. */
function solve(terms: Term[], target: number): string | null {
  if (terms.length === 1) return Math.abs(terms[0].value - target) < 1e-9 ? terms[0].expr : null;
  for (let i = 0; i < terms.length; i++) {
    for (let j = 0; j < terms.length; j++) {
      if (i === j) continue;
      const a = terms[i];
      const b = terms[j];
      const rest = terms.filter((_, k) => k !== i && k !== j);
      const options: Term[] = [
        { value: a.value + b.value, expr: `(${a.expr} + ${b.expr})` },
        { value: a.value - b.value, expr: `(${a.expr} - ${b.expr})` },
        { value: a.value * b.value, expr: `(${a.expr} * ${b.expr})` },
      ];
      if (b.value !== 0) options.push({ value: a.value / b.value, expr: `(${a.expr} / ${b.expr})` });
      for (const t of options) {
        const found = solve([...rest, t], target);
        if (found) return found;
      }
    }
  }
  return null;
}

for (const [file, preset] of [
  ['countdown/tinyzero_test.parquet', 'countdown'],
  ['countdown/d1_countdown_cd3_test.jsonl', 'countdown_d1'],
] as const) {
  test(`countdown reward on ${file}`, async () => {
    const examples = await loadDataset(sharedFile(file), { mapping: preset });
    let solved = 0;
    let correct = 0;
    let wrongTarget = 0;
    let missingNumber = 0;
    let sums = 0;
    for (const e of examples) {
      const numbers = e.numbers!;
      const target = e.target!;
      const sum = numbers.reduce((a, b) => a + b, 0);
      if (scoreCountdown(`<answer>${numbers.join(' + ')}</answer>`, numbers, target) === (sum === target ? 1 : 0.1))
        sums++;
      const equation = solve(
        numbers.map((n) => ({ value: n, expr: String(n) })),
        target,
      );
      if (!equation) continue;
      solved++;
      if (scoreCountdown(`<think>search</think>\n<answer>${equation}</answer>`, numbers, target) === 1) correct++;
      if (scoreCountdown(`<answer>${equation}</answer>`, numbers, target + 1) === 0.1) wrongTarget++;
      if (scoreCountdown(`<answer>${equation}</answer>`, [...numbers, 7], target) === 0.1) missingNumber++;
    }
    console.log(`${file}: ${examples.length} problems, ${solved} solved by brute force`);
    console.log(
      `${file}: solver's equations scored 1.0: ${correct}/${solved}; with target+1 scored 0.1: ${wrongTarget}/${solved}; with an unused extra number scored 0.1: ${missingNumber}/${solved}; sum-of-numbers answers scored as expected: ${sums}/${examples.length}`,
    );
    assert.ok(solved > examples.length * 0.9, `solved only ${solved}`);
    assert.equal(correct, solved);
    assert.equal(wrongTarget, solved);
    assert.equal(missingNumber, solved);
    assert.equal(sums, examples.length);
  });
}
