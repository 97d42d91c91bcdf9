/** Following a file another process writes: only whole lines, only new bytes, and rewrites start over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JsonlTail } from '../../src/dashboard/jsonl-tail.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'grpo-tail-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a line still being written is left for the next read; appended lines are read once', () => {
  const f = path.join(dir, 'a.jsonl');
  const t = new JsonlTail<{ step: number }>(f);
  assert.deepEqual(t.refresh().rows, [], 'a missing file is no rows');
  writeFileSync(f, '{"step":1}\n{"st');
  assert.deepEqual(t.refresh().rows, [{ step: 1 }]);
  appendFileSync(f, 'ep":2}\n');
  assert.deepEqual(t.refresh().rows, [{ step: 1 }, { step: 2 }]);
  assert.deepEqual(t.refresh().rows, [{ step: 1 }, { step: 2 }], 'nothing new, nothing added');
  assert.equal(t.generation, 0);
});

test('a rewritten file (truncated, or trimmed and grown past the old size, as a resumed run does) is read from the start', () => {
  const f = path.join(dir, 'b.jsonl');
  const t = new JsonlTail<{ step: number; v?: number }>(f);
  writeFileSync(f, '{"step":1}\n{"step":2}\n');
  t.refresh();
  writeFileSync(f, '{"step":1}\n');
  assert.deepEqual(t.refresh().rows, [{ step: 1 }]);
  assert.equal(t.generation, 1);
  // a resumed run keeps lines 1…k and writes new ones after: the last line this reader took is no longer there
  writeFileSync(f, '{"step":1}\n{"step":2,"v":7}\n{"step":3,"v":7}\n');
  assert.equal(t.refresh().rows.length, 3);
  assert.equal(t.generation, 1, 'lines appended after the kept one are read on');
  writeFileSync(f, '{"step":1}\n{"step":2,"v":7}\n{"step":3,"v":8}\n{"step":4}\n');
  assert.deepEqual(
    t.refresh().rows.map((r) => [r.step, r.v]),
    [
      [1, undefined],
      [2, 7],
      [3, 8],
      [4, undefined],
    ],
  );
  assert.equal(t.generation, 2);
});

test('a complete line that is not JSON is skipped and counted', () => {
  const f = path.join(dir, 'c.jsonl');
  writeFileSync(f, '{"step":1}\nnot json\n\n{"step":2}\n');
  const t = new JsonlTail(f).refresh();
  assert.equal(t.rows.length, 2);
  assert.equal(t.skipped, 1);
});

test('lines that are not a JSON record (not JSON, null, a list, a number) are counted and left out', () => {
  const f = path.join(dir, 'bad.jsonl');
  writeFileSync(f, '{"step":1}\nnull\n[1,2]\n7\n{oops\n{"step":2}\n');
  const t = new JsonlTail<{ step: number }>(f).refresh();
  assert.deepEqual(t.rows, [{ step: 1 }, { step: 2 }]);
  assert.equal(t.skipped, 4);
});
