// Shared pieces of the training-free methods: dataset loading, metrics, templates, topping up samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExamples } from '../../src/trainingfree/common/dataset.ts';
import { metricByName, scoreResponse, taskMetrics } from '../../src/trainingfree/common/metrics.ts';
import { checkTemplate, renderTemplate } from '../../src/trainingfree/common/template.ts';
import { redactSecrets } from '../../src/trainingfree/common/config.ts';
import { chatModelFromFunction, sampleCompletions } from '../../src/rollout/chat-model.ts';

test('loadExamples: JSONL and JSON, numeric answers as text, dotted fields, limits, clear errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-data-'));
  writeFileSync(join(dir, 'a.jsonl'), '{"q": "1+1", "a": 2, "id": "x"}\n\n{"q": "2+2", "a": "4", "id": "y"}\n');
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ data: [{ q: 'hi', meta: { gold: 'there' } }] }));
  const a = await loadExamples({ path: 'a.jsonl', inputField: 'q', answerField: 'a', idField: 'id' }, dir);
  assert.deepEqual(
    a.map((e) => [e.id, e.input, e.answer]),
    [
      ['x', '1+1', '2'],
      ['y', '2+2', '4'],
    ],
  );
  assert.equal((await loadExamples({ path: 'a.jsonl', inputField: 'q', answerField: 'a', limit: 1 }, dir)).length, 1);
  const b = join(dir, 'b.json');
  assert.deepEqual(
    (await loadExamples({ path: b, inputField: 'q', answerField: 'meta.gold' })).map((e) => [e.id, e.answer]),
    [[`${b}#0`, 'there']],
  );
  await assert.rejects(
    loadExamples({ path: 'a.jsonl', inputField: 'question', answerField: 'a' }, dir),
    /no field 'question' \(the row has: q, a, id\)/,
  );
  writeFileSync(join(dir, 'dup.jsonl'), '{"q": 1, "a": 1}\n{"q": 1, "a": 2}\n');
  await assert.rejects(
    loadExamples({ path: 'dup.jsonl', inputField: 'q', answerField: 'a', idField: 'q' }, dir),
    /duplicate id '1'/,
  );
  await assert.rejects(
    loadExamples({ path: 'missing.jsonl', inputField: 'q', answerField: 'a' }, dir),
    /cannot read dataset/,
  );
});

test('metrics: exact_match and contains normalise case and spacing; math compares final answers; unknown names fail', async () => {
  const ex = { id: '1', input: '', answer: 'New  Delhi', fields: {} };
  assert.equal((await scoreResponse(taskMetrics.exact_match, ' new delhi. ', ex)).score, 1);
  assert.equal((await scoreResponse(taskMetrics.exact_match, 'It is New Delhi', ex)).score, 0);
  assert.equal((await scoreResponse(taskMetrics.contains, 'It is NEW DELHI, of course', ex)).score, 1);
  const m = { id: '2', input: '', answer: '#### 12', fields: {} };
  assert.equal((await scoreResponse(taskMetrics.math, 'so the total is \\boxed{12}', m)).score, 1);
  const wrong = await scoreResponse(taskMetrics.math, 'the answer is \\boxed{13}', m);
  assert.equal(wrong.score, 0);
  assert.match(wrong.feedback, /reference answer is #### 12/);
  assert.throws(() => metricByName('f1'), /unknown metric 'f1'; known: exact_match, contains, math/);
  await assert.rejects(
    scoreResponse(() => ({ score: Number.NaN, feedback: '' }), 'x', ex),
    /must return \{ score: finite number/,
  );
});

test('templates: unknown placeholders are config errors; rendering leaves unknown ones alone', () => {
  assert.equal(renderTemplate('Q: {{input}} / {{ style }}', { input: 'x', style: 'terse' }), 'Q: x / terse');
  assert.equal(renderTemplate('{{other}}', {}), '{{other}}');
  assert.throws(
    () => checkTemplate('{{input}} {{ctx}}', ['input'], 'user_template'),
    /user_template: unknown placeholder\(s\) \{\{ctx\}\}; available: \{\{input\}\}/,
  );
});

test('sampleCompletions tops up when a server returns fewer choices than n, advancing the seed', async () => {
  const seen: (number | undefined)[] = [];
  const oneAtATime = chatModelFromFunction('one', (_m, o) => {
    seen.push(o.seed);
    return { choices: [{ text: `s${o.seed}`, finishReason: 'stop' }] };
  });
  const out = await sampleCompletions(oneAtATime, [{ role: 'user', content: 'x' }], 3, { seed: 10 });
  assert.deepEqual(
    out.map((c) => c.text),
    ['s10', 's11', 's12'],
  );
  assert.deepEqual(seen, [10, 11, 12]);
  const none = chatModelFromFunction('none', () => ({ choices: [] }));
  await assert.rejects(sampleCompletions(none, [{ role: 'user', content: 'x' }], 2), /returned no choices/);
});

test('saved configs never contain API keys', () => {
  assert.deepEqual(redactSecrets({ task_model: { api_key: 'sk-1', model: 'm' }, critic_model: null }), {
    task_model: { api_key: '***', model: 'm' },
    critic_model: null,
  });
});
