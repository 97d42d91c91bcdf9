import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readExamples } from '../../src/data/examples.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'examples-'));
const file = (name: string, rows: unknown[]) => {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return p;
};

test('readExamples: named columns (dotted paths, numbers as text), with or without an answer, and a limit', async () => {
  const p = file('cols.jsonl', [
    { q: { text: 'one?' }, a: 1, c: 'because 1' },
    { q: { text: 'two?' }, a: 2, c: 'because 2', id: 'b' },
  ]);
  const columns = { prompt: 'q.text', answer: 'a', completion: 'c' };
  const examples = await readExamples({ path: p, mapping: 'columns', columns });
  assert.deepEqual(
    examples.map((e) => [e.id, e.prompt, e.answer, e.completion]),
    [
      ['0', 'one?', '1', 'because 1'],
      ['b', 'two?', '2', 'because 2'],
    ],
  );
  assert.equal((await readExamples({ path: p, mapping: 'columns', columns, limit: 1 })).length, 1);
  const noAnswer = { ...columns, answer: 'missing' };
  const pairs = await readExamples({ path: p, mapping: 'columns', columns: noAnswer, answers: 'optional' });
  assert.equal(pairs[0].answer, undefined);
  await assert.rejects(
    readExamples({ path: p, mapping: 'columns', columns: noAnswer, columnAdvice: 'set answer_field' }),
    /row 0: no field 'missing' \(the row has: q, a, c\); set answer_field/,
  );
});

test('readExamples: a file without the prompt and answer columns goes through the preset its columns show', async () => {
  const p = file('gsm8k.jsonl', [{ question: 'Tom has 3 apples and gets 4. How many?', answer: '3+4=7\n#### 7' }]);
  const [e] = await readExamples({ path: p });
  assert.equal(e.answer, '7');
  await assert.rejects(readExamples({ path: file('odd.jsonl', [{ x: 1 }]) }), /cannot tell the dataset shape/);
  await assert.rejects(
    readExamples({ path: file('empty.jsonl', []) }),
    /the dataset .*empty\.jsonl is empty \(no rows\)/,
  );
});

test('readExamples: embedded tasks from the built-in ones or a registry, by split and seed', async () => {
  const task = embeddedTask('embedded:addition');
  const held = await readExamples({ path: 'embedded:addition', split: 'held_out', limit: 3, seed: 5 });
  assert.deepEqual(held, task.heldOut(3, 5));
  assert.equal((await readExamples({ path: 'embedded:addition', embeddedSize: 7 })).length, 7);
  const tasks = { mine: (split: 'train' | 'test', seed: number) => [{ id: split, prompt: `seed ${seed}` }] };
  assert.deepEqual(await readExamples({ path: 'embedded:mine', split: 'held_out', seed: 2, tasks }), [
    { id: 'test', prompt: 'seed 2' },
  ]);
  await assert.rejects(
    readExamples({ path: 'embedded:other', tasks }),
    /unknown embedded task 'other'; available: mine/,
  );
});
