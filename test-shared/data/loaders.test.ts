// Every dataset file in ../shared/data read by the loaders, checked against the sizes in its README,
// against an independent plain parse where one is possible, and row by row for consistency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { readRecords, loadDataset, detectPreset, type Example } from '../../src/data/index.ts';
import { SHARED_DATA, sharedFile } from './shared-path.ts';

// Row counts from ../shared/data/README.md.
const EXPECTED: Record<string, { rows: number; preset: string; examples?: number }> = {
  'math/gsm8k_train.jsonl': { rows: 7473, preset: 'gsm8k' },
  'math/gsm8k_test.jsonl': { rows: 1319, preset: 'gsm8k' },
  'math/math500.test.jsonl': { rows: 500, preset: 'math' },
  'math/aime24.test.jsonl': { rows: 30, preset: 'math' },
  'math/aime25.test.jsonl': { rows: 30, preset: 'math' },
  'math/amc23.test.jsonl': { rows: 40, preset: 'math' },
  // 4 MATH-train rows have a null or empty answer and are skipped by the mapping.
  'math/math_train.json': { rows: 7474, preset: 'math', examples: 7470 },
  'math/aime_1983_2023.json': { rows: 975, preset: 'math' },
  'countdown/tinyzero_train.parquet': { rows: 8001, preset: 'countdown' },
  'countdown/tinyzero_test.parquet': { rows: 2001, preset: 'countdown' },
  'countdown/d1_countdown_cd3_test.jsonl': { rows: 256, preset: 'countdown_d1' },
  'code/HumanEval.jsonl.gz': { rows: 164, preset: 'humaneval' },
  'code/mbpp.jsonl': { rows: 974, preset: 'mbpp' },
};

/** Plain, independent parse of a JSON / JSONL(.gz) file. */
function plainParse(file: string): Record<string, unknown>[] {
  let bytes = readFileSync(file);
  if (file.endsWith('.gz')) bytes = gunzipSync(bytes);
  const text = bytes.toString('utf8');
  return file.endsWith('.json')
    ? JSON.parse(text)
    : text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l));
}

test('every dataset file in the shared data folder is known to this suite', () => {
  // models/ and tokenizers/ hold weights and tokenizers, not datasets.
  const found = ['math', 'countdown', 'code']
    .flatMap((dir) => readdirSync(path.join(SHARED_DATA, dir)).map((f) => `${dir}/${f}`))
    .sort();
  assert.deepEqual(found, Object.keys(EXPECTED).sort());
});

for (const [relative, expected] of Object.entries(EXPECTED)) {
  test(`loads ${relative}`, async () => {
    const file = sharedFile(relative);
    const records = await readRecords(file);
    assert.equal(records.length, expected.rows);
    if (!relative.endsWith('.parquet')) assert.deepEqual(records, plainParse(file));
    assert.equal(detectPreset(records[0]), expected.preset);
    const skipped: number[] = [];
    const examples = await loadDataset(file, { onSkip: (s) => skipped.push(...s.map((x) => x.index)) });
    assert.equal(examples.length, expected.examples ?? expected.rows, `skipped rows ${skipped.join(', ')}`);
    assert.equal(new Set(examples.map((e) => e.id)).size, examples.length, 'ids are unique');
    for (const e of examples) checkExample(e, expected.preset, records);
    console.log(`${relative}: ${records.length} records → ${examples.length} examples (${expected.preset})`);
  });
}

function checkExample(e: Example, preset: string, records: Record<string, unknown>[]): void {
  assert.ok(typeof e.prompt === 'string' && e.prompt.length > 0);
  switch (preset) {
    case 'gsm8k':
      assert.match(e.answer!, /^-?\d+(\.\d+)?$/, `gsm8k answer ${e.answer}`);
      assert.ok(
        e.solution!.trim().endsWith(`#### ${e.answer}`) ||
          e.solution!.replace(/,/g, '').trim().endsWith(`#### ${e.answer}`),
      );
      break;
    case 'math':
      assert.ok(typeof e.answer === 'string' && e.answer.length > 0);
      break;
    case 'countdown':
    case 'countdown_d1': {
      assert.ok(
        Array.isArray(e.numbers) && e.numbers.length >= 3 && e.numbers.length <= 4 && e.numbers.every(Number.isInteger),
      );
      assert.ok(Number.isInteger(e.target));
      // The prompt restates the numbers and the target: an independent check on the parquet columns.
      assert.ok(
        e.prompt.includes(`Using the numbers [${e.numbers.join(', ')}], create an equation that equals ${e.target}.`),
        e.prompt,
      );
      break;
    }
    case 'humaneval':
      assert.ok(e.tests!.length === 1 && e.tests![0].endsWith(`check(${e.entry_point})`));
      assert.ok(e.prompt.includes(`def ${e.entry_point}`));
      break;
    case 'mbpp': {
      const raw = records.find((r) => `mbpp-${r.task_id}` === e.id)!;
      assert.deepEqual(e.tests, raw.test_list);
      break;
    }
  }
}

test('TinyZero parquet: every row agrees with its reward_model ground truth', async () => {
  for (const file of ['countdown/tinyzero_train.parquet', 'countdown/tinyzero_test.parquet']) {
    const rows = await readRecords(sharedFile(file));
    let agree = 0;
    for (const r of rows) {
      const truth = (r.reward_model as { ground_truth: { numbers: unknown; target: unknown } }).ground_truth;
      if (
        JSON.stringify(truth.numbers) === JSON.stringify(r.nums) &&
        truth.target === r.target &&
        typeof r.target === 'number'
      )
        agree++;
    }
    console.log(`${file}: nums/target agree with reward_model.ground_truth in ${agree}/${rows.length} rows`);
    assert.equal(agree, rows.length);
  }
});
