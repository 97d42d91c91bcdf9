import { test } from 'node:test';
import assert from 'node:assert/strict';
import { r1ZeroTemplate, chatTemplate, R1_ZERO_TEMPLATE } from '../../src/data/templates.ts';
import { dedupe, filterByLength, heldOutSplit } from '../../src/data/filters.ts';
import type { Example } from '../../src/data/presets.ts';

const ex = (id: string, prompt: string): Example => ({ id, prompt });

test('R1-Zero template wraps the question (DeepSeek-R1 Table 1)', () => {
  const prompt = r1ZeroTemplate()(ex('1', 'What is 2+2?'));
  assert.ok(prompt.startsWith('A conversation between User and Assistant.'));
  assert.ok(prompt.endsWith('User: What is 2+2?. Assistant:'));
  assert.equal(R1_ZERO_TEMPLATE.split('{prompt}').length, 2);
  assert.ok(r1ZeroTemplate({ openThink: true })(ex('1', 'Q.')).endsWith('User: Q. Assistant: <think>'));
  assert.ok(r1ZeroTemplate()(ex('1', 'costs $5 and $&')).includes('costs $5 and $&'), 'no regex replacement patterns');
});

test('chat template hook passes messages and asks for a generation prompt', () => {
  const calls: unknown[] = [];
  const template = chatTemplate(
    (messages, opts) => {
      calls.push({ messages, opts });
      return messages.map((m) => `<|${m.role}|>${m.content}`).join('') + '<|assistant|>';
    },
    { system: 'Be brief.', instruction: 'Put the answer in \\boxed{}.' },
  );
  assert.equal(template(ex('1', 'Q')), '<|system|>Be brief.<|user|>Q\nPut the answer in \\boxed{}.<|assistant|>');
  assert.deepEqual((calls[0] as { opts: unknown }).opts, { addGenerationPrompt: true });
});

test('dedupe ignores case, whitespace and $ delimiters; keeps the first', () => {
  const kept = dedupe([ex('a', 'Find $x$.'), ex('b', 'find  x.'), ex('c', 'Find y.')]);
  assert.deepEqual(
    kept.map((e) => e.id),
    ['a', 'c'],
  );
});

test('length filter with a custom counter', () => {
  const words = (t: string) => t.split(/\s+/).length;
  const kept = filterByLength([ex('a', 'one two'), ex('b', 'one two three four'), ex('c', '')], {
    maxLength: 3,
    count: words,
  });
  assert.deepEqual(
    kept.map((e) => e.id),
    ['a', 'c'],
  );
  assert.deepEqual(
    filterByLength([ex('a', ''), ex('b', 'xy')], { maxLength: 5 }).map((e) => e.id),
    ['b'],
  );
});

test('held-out split: exact size, disjoint, covering, order kept, reproducible by seed', () => {
  const items = [...Array(100).keys()];
  const a = heldOutSplit(items, { size: 0.2, seed: 7 });
  assert.equal(a.heldOut.length, 20);
  assert.equal(a.train.length, 80);
  assert.deepEqual(
    [...a.train, ...a.heldOut].sort((x, y) => x - y),
    items,
  );
  assert.deepEqual(
    a.train,
    [...a.train].sort((x, y) => x - y),
  );
  assert.deepEqual(heldOutSplit(items, { size: 0.2, seed: 7 }), a);
  assert.notDeepEqual(heldOutSplit(items, { size: 0.2, seed: 8 }).heldOut, a.heldOut);
  assert.equal(heldOutSplit(items, { size: 5, seed: 1 }).heldOut.length, 5);
  assert.throws(() => heldOutSplit(items, { size: 101, seed: 1 }), /does not fit/);
  assert.throws(() => heldOutSplit([], { size: 5, seed: 1 }), /the dataset is empty/);
});
