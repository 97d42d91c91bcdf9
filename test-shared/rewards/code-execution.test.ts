// Code reward on HumanEval and MBPP: the reference solutions pass their tests in the Python sandbox,
// and a broken solution (the function returns None) fails them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeReward, pythonIsolation } from '../../src/rewards/index.ts';
import { loadDataset } from '../../src/data/index.ts';
import { sharedFile } from '../data/shared-path.ts';

const fence = (code: string) => `Here is the solution.\n\`\`\`python\n${code}\n\`\`\``;

/** Replaces the body of the named function with `return None` (keeps the signature). */
function broken(code: string, name: string): string {
  return `${code}\n\ndef ${name}(*args, **kwargs):\n    return None\n`;
}

test('HumanEval: canonical solutions pass, broken ones fail', async () => {
  console.log('python sandbox isolation:', JSON.stringify(pythonIsolation()));
  const examples = await loadDataset(sharedFile('code/HumanEval.jsonl.gz'), { mapping: 'humaneval' });
  assert.equal(examples.length, 164);
  const reward = codeReward({ python: { timeoutMs: 30_000, testTimeoutMs: 20_000 } });
  const scores = await Promise.all(examples.map((e) => reward(fence(e.solution!), e)));
  const brokenScores = await Promise.all(examples.map((e) => reward(fence(broken(e.solution!, e.entry_point!)), e)));
  const passed = scores.filter((s) => s === 1).length;
  const brokenFailed = brokenScores.filter((s) => s === 0).length;
  console.log(`humaneval canonical solutions passing: ${passed}/${examples.length}`);
  console.log(`humaneval broken solutions failing: ${brokenFailed}/${examples.length}`);
  assert.equal(passed, examples.length);
  assert.equal(brokenFailed, examples.length);
});

test('MBPP: reference solutions pass their tests', async () => {
  const examples = await loadDataset(sharedFile('code/mbpp.jsonl'), { mapping: 'mbpp' });
  assert.equal(examples.length, 974);
  const reward = codeReward({ python: { timeoutMs: 30_000, testTimeoutMs: 20_000 } });
  const scores = await Promise.all(examples.map((e) => reward(fence(e.solution!), e)));
  const passed = scores.filter((s) => s === 1).length;
  const failedIds = examples.filter((_, i) => scores[i] !== 1).map((e) => e.id);
  console.log(
    `mbpp reference solutions passing all tests: ${passed}/${examples.length}${failedIds.length ? ` (not passing: ${failedIds.join(', ')})` : ''}`,
  );
  assert.equal(passed, examples.length);
});
