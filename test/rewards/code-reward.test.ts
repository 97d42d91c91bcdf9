import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { extractCode, codeReward } from '../../src/rewards/code/reward.ts';
import { shutdownJavaScriptSandbox } from '../../src/rewards/code/javascript.ts';
import { spawnSync } from 'node:child_process';

const noPython = spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false;

after(() => shutdownJavaScriptSandbox());

test('extractCode takes the last block in the language, else the last untagged block', () => {
  const text = 'intro\n```python\ndef a(): pass\n```\nbetter:\n```python\ndef b(): pass\n```\n```js\nlet x\n```';
  assert.equal(extractCode(text, 'python'), 'def b(): pass\n');
  assert.equal(extractCode(text, 'javascript'), 'let x\n');
  assert.equal(extractCode('```\nprint(1)\n```', 'python'), 'print(1)\n');
  assert.equal(extractCode('<think>```python\nx=1\n```</think> no code', 'python'), null);
  assert.equal(extractCode('plain text', 'python'), null);
});

// A HumanEval-shaped sample written here (not from the dataset): tests = check(candidate) + call.
const sample = {
  tests: ['def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-1) == 1\ncheck(square)'],
  language: 'python',
};

test('python code reward: share of tests passed, 0 without code', { skip: noPython }, async () => {
  const reward = codeReward({ python: { timeoutMs: 3000 } });
  assert.equal(await reward('```python\ndef square(x):\n    return x * x\n```', sample), 1);
  assert.equal(await reward('```python\ndef square(x):\n    return 2 * x\n```', sample), 0);
  assert.equal(await reward('no code', sample), 0);
  // MBPP-style setup builds fixtures from the solution's own class, so it must run after the code.
  const mbppLike = { tests: ['assert inc(box) == 3', 'assert inc(box) == 4'], test_setup: 'box = Box(2)' };
  const solution =
    '```python\nclass Box:\n    def __init__(self, v):\n        self.v = v\ndef inc(b):\n    return b.v + 1\n```';
  assert.equal(await reward(solution, mbppLike), 0.5);
  assert.equal(await codeReward({ allOrNothing: true })(solution, mbppLike), 0);
});

test('javascript code reward runs in the QuickJS sandbox', async () => {
  const reward = codeReward({ language: 'javascript' });
  const js = { tests: ['assertEqual(fib(10), 55)', 'assertEqual(fib(1), 1)'] };
  assert.equal(await reward('```js\nfunction fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n```', js), 1);
  assert.equal(await reward('```javascript\nfunction fib(n) { return n; }\n```', js), 0.5);
});

test('io tests for stdin/stdout programs', { skip: noPython }, async () => {
  const reward = codeReward();
  const io = {
    io_tests: [
      { input: '3\n', output: '9\n' },
      { input: '4\n', output: '16\n' },
    ],
  };
  assert.equal(await reward('```python\nn = int(input())\nprint(n * n)\n```', io), 1);
});
