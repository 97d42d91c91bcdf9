// Agreement with huggingface/Math-Verify on its own regression cases (transcribed in
// math-verify-cases.json with the verdicts its tests expect). Target: at least 95% agreement and no
// case Math-Verify rejects graded correct.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gradeMath, type GradeOptions } from '../../src/rewards/math/grade.ts';
import { shutdownSymbolicWorker } from '../../src/rewards/math/symbolic.ts';

after(() => shutdownSymbolicWorker());

interface Case {
  source: string;
  gold: string;
  prediction: string;
  expected: boolean;
  options?: GradeOptions;
}

const { cases } = JSON.parse(readFileSync(new URL('./math-verify-cases.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

test('Math-Verify regression cases: at least 95% agreement, no false positives', () => {
  let agree = 0;
  const falsePositives: string[] = [];
  const misses: string[] = [];
  for (const c of cases) {
    const got = gradeMath(c.prediction, c.gold, c.options);
    if (got === c.expected) agree++;
    else (got ? falsePositives : misses).push(`${c.source}: ${c.gold.slice(-60)} | ${c.prediction.slice(-60)}`);
  }
  console.log(`math-verify cases: ${agree}/${cases.length} agree (${((100 * agree) / cases.length).toFixed(1)}%)`);
  if (misses.length) console.log('  rejected though Math-Verify accepts:\n    ' + misses.join('\n    '));
  assert.equal(cases.length, 269);
  assert.deepEqual(falsePositives, []);
  assert.ok(agree / cases.length >= 0.95, `${agree}/${cases.length}`);
});
