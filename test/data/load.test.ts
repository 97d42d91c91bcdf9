import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readRecords, formatOf } from '../../src/data/load.ts';
import { getPath, mapFields } from '../../src/data/fields.ts';
import { loadDataset, toExamples, detectPreset } from '../../src/data/presets.ts';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'grpo-data-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

test('format from the extension, .gz included', () => {
  assert.equal(formatOf('a/b.jsonl.gz'), 'jsonl');
  assert.equal(formatOf('x.JSON'), 'json');
  assert.equal(formatOf('y.parquet'), 'parquet');
  assert.throws(() => formatOf('z.csv'), /cannot tell the format/);
});

test('JSONL, gzipped JSONL, JSON list and JSON object with one list', async () => {
  const rows = [
    { question: 'q1', answer: 'x\n#### 1,000' },
    { question: 'q2', answer: 'y\n#### 7' },
  ];
  const jsonl = rows.map((r) => JSON.stringify(r)).join('\n') + '\n\n';
  assert.deepEqual(await readRecords(file('a.jsonl', jsonl)), rows);
  assert.deepEqual(await readRecords(file('a.jsonl.gz', gzipSync(jsonl))), rows);
  assert.deepEqual(await readRecords(file('a.json', JSON.stringify(rows))), rows);
  assert.deepEqual(await readRecords(file('b.json', JSON.stringify({ version: 1, data: rows }))), rows);
  assert.deepEqual(await readRecords(file('c.jsonl', jsonl), { limit: 1 }), rows.slice(0, 1));
});

test('malformed files are errors that say where', async () => {
  await assert.rejects(readRecords(file('bad.jsonl', '{"a":1}\n{oops\n')), /bad\.jsonl:2: not valid JSON/);
  // a line that is JSON but not a record says what it is (a `null` is not "an object")
  await assert.rejects(
    readRecords(file('null.jsonl', '{"a":1}\nnull\n')),
    /null\.jsonl:2: expected a JSON object per line, got null; remove the line/,
  );
  await assert.rejects(readRecords(file('list.jsonl', '[1]\n')), /list\.jsonl:1: expected .* got a list/);
  await assert.rejects(
    readRecords(file('n.json', '[{"a":1}, null]')),
    /n\.json: record 1 is not a JSON object \(got null\)/,
  );
  await assert.rejects(
    readRecords(file('two.json', JSON.stringify({ a: [], b: [] }))),
    /2 lists \(a, b\); pass jsonKey/,
  );
  await assert.rejects(readRecords(join(dir, 'missing.jsonl')), /cannot read dataset/);
  await assert.rejects(readRecords(file('bad.parquet', 'not parquet')), /not a readable Parquet file/);
});

test('Parquet: int64 becomes number when exact, lists and strings come through', async () => {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'target', data: [55n, 98n], type: 'INT64' },
      {
        name: 'nums',
        data: [
          [96, 7, 37, 74],
          [44, 19, 35],
        ],
        type: 'JSON',
      },
      { name: 'big', data: [2n ** 60n, 1n], type: 'INT64' },
    ],
  });
  const rows = await readRecords(file('cd.parquet', new Uint8Array(buffer)));
  assert.deepEqual(rows[0], { target: 55, nums: [96, 7, 37, 74], big: 2n ** 60n });
  const examples = toExamples(rows, 'countdown');
  assert.deepEqual(examples[1].numbers, [44, 19, 35]);
  assert.equal(examples[1].target, 98);
  assert.match(examples[1].prompt, /Using the numbers \[44, 19, 35\], create an equation that equals 98\./);
});

test('field maps: dotted paths, functions, and a clear error for a missing field', () => {
  const rows = [{ q: { text: 'hi' }, list: [{ content: 'c0' }] }];
  assert.equal(getPath(rows[0], 'list.0.content'), 'c0');
  assert.deepEqual(mapFields(rows, { prompt: 'q.text', first: 'list.0.content', n: (_r, i) => i }), [
    { prompt: 'hi', first: 'c0', n: 0 },
  ]);
  assert.throws(() => mapFields(rows, { answer: 'solution' }), /row 0: no value for 'answer' \(from 'solution'\)/);
});

test('presets map each dataset shape; unmappable rows are skipped and reported', async () => {
  const gsm = toExamples([{ question: 'How many?', answer: 'work\n#### 1,200' }], 'gsm8k');
  assert.equal(gsm[0].answer, '1200');
  assert.equal(gsm[0].prompt, 'How many?');
  const math = toExamples(
    [
      { problem: 'p', answer: 27.0, level: 3 },
      { problem: 'p2', answer: null },
    ],
    'math',
    {
      onSkip: (s) =>
        assert.deepEqual(
          s.map((x) => x.index),
          [1],
        ),
    },
  );
  assert.equal(math.length, 1);
  assert.equal(math[0].answer, '27');
  assert.equal(math[0].difficulty, 3);
  assert.throws(
    () => toExamples([{ problem: 'p2', answer: null }], 'math', { invalidRows: 'error' }),
    /row 0: math row with an empty answer/,
  );
  const he = toExamples(
    [
      {
        task_id: 'HumanEval/0',
        prompt: 'def f():\n',
        entry_point: 'f',
        canonical_solution: '  return 1\n',
        test: 'def check(c):\n  assert c() == 1\n',
      },
    ],
    'humaneval',
  );
  assert.deepEqual(he[0].tests, ['def check(c):\n  assert c() == 1\n\ncheck(f)']);
  const mbpp = toExamples(
    [
      {
        task_id: 2,
        text: 'Add one.',
        code: 'def inc(x): return x+1',
        test_list: ['assert inc(1) == 2'],
        test_setup_code: '',
      },
    ],
    'mbpp',
  );
  assert.match(mbpp[0].prompt, /^Add one\.\nYour code should pass these tests:\n\nassert inc\(1\) == 2$/);
  const d1 = toExamples([{ input: '30,100,93', output: '23' }], 'countdown_d1');
  assert.deepEqual([d1[0].numbers, d1[0].target], [[30, 100, 93], 23]);
  assert.throws(() => toExamples([], 'nope' as 'math'), /unknown dataset preset/);
});

test('detectPreset recognises the shapes and loadDataset uses it', async () => {
  assert.equal(detectPreset({ question: 'q', answer: 'a #### 3' }), 'gsm8k');
  assert.equal(detectPreset({ problem: 'p', answer: '3' }), 'math');
  assert.equal(detectPreset({ nums: [1], target: 1 }), 'countdown');
  assert.equal(detectPreset({ input: '1,2,3', output: '6' }), 'countdown_d1');
  assert.equal(detectPreset({ task_id: 't', entry_point: 'f', test: '' }), 'humaneval');
  assert.equal(detectPreset({ text: 't', test_list: [] }), 'mbpp');
  assert.equal(detectPreset({ foo: 1 }), null);
  const p = file('g.jsonl', JSON.stringify({ question: 'q', answer: 'w\n#### 5' }) + '\n');
  assert.equal((await loadDataset(p))[0].answer, '5');
  await assert.rejects(loadDataset(file('u.jsonl', '{"foo":1}\n')), /cannot tell the dataset shape/);
});
