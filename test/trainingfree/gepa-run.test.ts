// runGepa end to end with scripted chat models: the default chat adapter, the reflection prompt and its
// fenced answer, budget, saved files, held-out scores of seed and best, config validation.
import { test } from 'node:test';
import { GrpoError } from '../../src/errors.ts';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGepa } from '../../src/trainingfree/gepa/run.ts';
import { parseGepaConfig } from '../../src/trainingfree/gepa/config.ts';
import { gepaCommand, gepaConfigReference } from '../../src/trainingfree/gepa/cli.ts';
import { defaultReflectionTemplate, reflectionPrompt } from '../../src/trainingfree/gepa/instruction-proposal.ts';
import { scriptedModel, systemOf, userOf } from './scripted-models.ts';

const CAPITALS: Record<string, string> = {
  France: 'Paris',
  Japan: 'Tokyo',
  Peru: 'Lima',
  Kenya: 'Nairobi',
  Chile: 'Santiago',
  Egypt: 'Cairo',
  Spain: 'Madrid',
  Italy: 'Rome',
};
const NEW_INSTRUCTIONS = 'Reply with the name of the capital only, no other words.';

/** Knows every capital; answers tersely only when its instructions say "only". */
const taskModel = () =>
  scriptedModel('task', (messages) => {
    const country = /capital of (\w+)/.exec(userOf(messages))![1];
    return systemOf(messages).includes('only')
      ? CAPITALS[country]
      : `I believe the capital of ${country} is ${CAPITALS[country]}.`;
  });

const reflectionModel = () =>
  scriptedModel(
    'reflection',
    () => `The feedback says the answer must be exact.\n\`\`\`\n${NEW_INSTRUCTIONS}\n\`\`\`\n`,
  );

function writeData(dir: string): void {
  const rows = (cs: string[]) =>
    cs.map((c) => JSON.stringify({ question: `What is the capital of ${c}?`, answer: CAPITALS[c] })).join('\n');
  writeFileSync(join(dir, 'train.jsonl'), rows(['France', 'Japan', 'Peru']));
  writeFileSync(join(dir, 'val.jsonl'), rows(['Kenya', 'Chile', 'Egypt']));
  writeFileSync(join(dir, 'test.jsonl'), rows(['Spain', 'Italy']));
}

const config = {
  task: { train: 'train.jsonl', val: 'val.jsonl', test: 'test.jsonl', metric: 'exact_match' },
  program: { components: { instructions: 'Answer the question.' } },
  max_metric_calls: 20,
  out_dir: '.',
  name: 'run',
};

test('one reflective step fixes the format; the run stops on budget and saves its results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gepa-run-'));
  writeData(dir);
  const task = taskModel();
  const reflection = reflectionModel();
  const result = await runGepa(config, { taskModel: task, reflectionModel: reflection, baseDir: dir, quiet: true });

  // seed val 3 → it0: minibatch 3 + child 3 + val 3 = 12 → it1, it2: perfect parent, skipped, 3 each → 18 → it3 → 21
  assert.equal(result.totalMetricCalls, 21);
  assert.equal(result.state.iteration, 4);
  assert.deepEqual(result.valScores, [0, 1]);
  assert.deepEqual(result.bestProgram, { instructions: NEW_INSTRUCTIONS });
  assert.deepEqual(result.heldout, { seed: 0, best: 1, examples: 2 });
  assert.equal(reflection.calls.length, 1);

  // the reflection prompt carries the current text and each example's input, response and feedback
  const prompt = userOf(reflection.calls[0].messages);
  assert.ok(prompt.includes('Answer the question.'));
  assert.ok(prompt.includes('## Task input\nWhat is the capital of'));
  assert.ok(prompt.includes('## Assistant response\nI believe the capital of'));
  assert.ok(prompt.includes("Incorrect: the expected answer is '"));
  // the task model got the program as its system prompt, deterministically
  assert.ok(task.calls.every((c) => c.opts.temperature === 0));

  const out = join(dir, 'run');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'best_program.json'), 'utf8')), {
    instructions: NEW_INSTRUCTIONS,
  });
  const saved = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual([saved.best_index, saved.total_metric_calls, saved.heldout.best], [1, 21, 1]);
  assert.ok(existsSync(join(out, 'gepa_state.json')));
  const events = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).event);
  assert.deepEqual(events, ['seed', 'iteration', 'iteration', 'iteration', 'iteration', 'eval', 'eval']);

  // a second call with the same out_dir resumes: the budget is spent, so nothing more is evaluated
  const again = taskModel();
  const resumed = await runGepa(config, {
    taskModel: again,
    reflectionModel: reflectionModel(),
    baseDir: dir,
    quiet: true,
  });
  assert.equal(resumed.totalMetricCalls, 21);
  assert.equal(again.calls.length, 4, 'only the held-out scoring of seed and best (2 examples each)');
  // resume: false would start afresh over it: refused, unless overwrite
  await assert.rejects(
    runGepa(
      { ...config, resume: false },
      { taskModel: taskModel(), reflectionModel: reflectionModel(), baseDir: dir, quiet: true },
    ),
    (e: unknown) =>
      e instanceof GrpoError &&
      /already holds a run \(gepa_state\.json, metrics\.jsonl, best_program\.json, result\.json\): start afresh there with --overwrite/.test(
        e.message,
      ),
  );
  const fresh = await runGepa(
    { ...config, resume: false, overwrite: true },
    { taskModel: taskModel(), reflectionModel: reflectionModel(), baseDir: dir, quiet: true },
  );
  assert.equal(fresh.totalMetricCalls, 21, 'a whole new run');
});

test('the reflection template: placeholders replaced literally, examples as markdown sections', () => {
  const p = reflectionPrompt(defaultReflectionTemplate, 'Use $& carefully', [
    { Input: 'x', Details: { score: 1, notes: ['a', 'b'] } },
  ]);
  assert.ok(p.includes('Use $& carefully'));
  assert.ok(
    p.includes('# Example 1\n## Input\nx\n\n## Details\n### score\n1\n\n### notes\n#### Item 1\na\n\n#### Item 2\nb\n'),
  );
});

test('config: gepa defaults, unknown keys and bad templates are one clear error', async () => {
  const c = parseGepaConfig({});
  assert.deepEqual(
    [
      c.reflection_minibatch_size,
      c.candidate_selection,
      c.module_selector,
      c.acceptance,
      c.skip_perfect_score,
      c.perfect_score,
      c.use_merge,
      c.max_merge_invocations,
    ],
    [3, 'pareto', 'round_robin', 'strict_improvement', true, 1, false, 5],
  );
  assert.throws(() => parseGepaConfig({ acceptance: 'always' }), /'acceptance': Invalid option/);
  assert.throws(() => parseGepaConfig({ program: { componets: {} } }), /unknown key 'program\.componets'/);
  assert.throws(
    () => parseGepaConfig({ program: { components: { sys: 'x' }, user_template: '{{input}} {{nope}}' } }),
    /unknown placeholder\(s\) \{\{nope\}\}/,
  );
  assert.throws(
    () => parseGepaConfig({ reflection_prompt_template: 'improve <curr_instructions>' }),
    /lacks <inputs_outputs_feedback>/,
  );
  for (const line of gepaConfigReference().split('\n')) assert.match(line, /\): \S/, `undocumented key: ${line}`);
  const dir = mkdtempSync(join(tmpdir(), 'gepa-cli-'));
  writeFileSync(join(dir, 'gepa.yaml'), 'max_metric_calls: 10\nuse_merg: true\n');
  await assert.rejects(gepaCommand(join(dir, 'gepa.yaml'), { quiet: true }), /gepa\.yaml: unknown key 'use_merg'/);
});
