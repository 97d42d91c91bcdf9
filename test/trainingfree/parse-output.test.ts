// Robust reading of LLM answers: JSON in fences or prose, tagged sections, lists, last fenced block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractJson,
  fencedBlocks,
  lastFencedBlock,
  listItems,
  taggedSection,
} from '../../src/trainingfree/common/parse-output.ts';

test('extractJson: a ```json block among prose wins over other fences', () => {
  const text =
    'Here is my plan.\n```python\nprint(1)\n```\nAnd the answer:\n```json\n[{"operation": "ADD", "id": null, "content": "x"}]\n```\nDone.';
  assert.deepEqual(extractJson(text), { ok: true, value: [{ operation: 'ADD', id: null, content: 'x' }] });
});

test('extractJson: the last json block when there are several (a draft, then the final answer)', () => {
  const text = '```json\n[1]\n```\nOn reflection:\n```json\n[2]\n```';
  assert.deepEqual(extractJson(text), { ok: true, value: [2] });
});

test('extractJson: bare JSON in prose, trailing commas, // comments, unclosed fence', () => {
  assert.deepEqual(extractJson('I propose {"a": [1, 2,],} as the fix.'), { ok: true, value: { a: [1, 2] } });
  assert.deepEqual(extractJson('```json\n[\n  // keep this\n  {"op": "NONE"}\n]'), {
    ok: true,
    value: [{ op: 'NONE' }],
  });
  assert.deepEqual(extractJson('see [note] then [{"x": "a ] b"}]'), { ok: true, value: [{ x: 'a ] b' }] });
});

test('extractJson: failure is a value with a reason, never an exception', () => {
  const r = extractJson('I think we should add a lesson about checking units.');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /no parsable JSON/);
  assert.equal(extractJson('').ok, false);
  assert.equal(extractJson('{"a": [1, 2}').ok, false);
});

test('fencedBlocks and lastFencedBlock: language tags dropped, no fence = whole text', () => {
  assert.deepEqual(fencedBlocks('a\n```text\nX\nY\n```\nb\n```\nZ\n```'), [
    { lang: 'text', body: 'X\nY' },
    { lang: '', body: 'Z' },
  ]);
  assert.equal(
    lastFencedBlock('Draft:\n```\nold\n```\nFinal:\n```markdown\nnew instructions\nline 2\n```\n'),
    'new instructions\nline 2',
  );
  assert.equal(lastFencedBlock('  just text  '), 'just text');
  assert.equal(lastFencedBlock('```\nunclosed block'), 'unclosed block');
});

test('taggedSection and listItems', () => {
  const text =
    'analysis...\n<Experiences>\n1. When adding, carry digits.\n2) Check the\n   units.\n- Restate the question.\n</Experiences>';
  const section = taggedSection(text, 'experiences');
  assert.ok(section !== null);
  assert.deepEqual(listItems(section), ['When adding, carry digits.', 'Check the units.', 'Restate the question.']);
  assert.equal(taggedSection('no tags here', 'experiences'), null);
  assert.equal(taggedSection('<experiences>\n1. unclosed', 'experiences'), '1. unclosed');
});
