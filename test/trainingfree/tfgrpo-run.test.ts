// runTfGrpo end to end with scripted models: data from JSONL, config validation, steps, library files,
// metrics lines, held-out scores before and after, and applying the saved library at inference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTfGrpo } from '../../src/trainingfree/tfgrpo/run.ts';
import { parseTfGrpoConfig } from '../../src/trainingfree/tfgrpo/config.ts';
import { tfgrpoCommand, tfgrpoConfigReference } from '../../src/trainingfree/tfgrpo/cli.ts';
import { answerWithExperiences, loadExperienceLibrary } from '../../src/trainingfree/tfgrpo/inference.ts';
import { GrpoError } from '../../src/errors.ts';
import { criticStage, scriptedModel, systemOf, userOf } from './scripted-models.ts';

const LESSON = 'Check each sum twice before answering.';

/** Knows the sums; without the lesson in its system prompt only its odd-numbered samples are right. */
const solver = () =>
  scriptedModel('solver', (messages, _opts, k) => {
    const [, a, b] = /(\d+)\+(\d+)/.exec(userOf(messages))!;
    const right = String(Number(a) + Number(b));
    const wrong = String(Number(a) + Number(b) + 1);
    return systemOf(messages).includes(LESSON) || k % 2 === 1 ? right : wrong;
  });

const critic = () =>
  scriptedModel('critic', (messages) => {
    const stage = criticStage(messages);
    if (stage === 'summary') return 'Added the numbers; the wrong attempts were off by one.';
    if (stage === 'critique') return `<experiences>\n1. ${LESSON}\n</experiences>`;
    return '```json\n[{"operation": "ADD", "id": null, "content": "' + LESSON + '"}]\n```';
  });

function writeData(dir: string): void {
  const rows = (pairs: [number, number][]) =>
    pairs.map(([a, b]) => JSON.stringify({ q: `What is ${a}+${b}?`, a: a + b })).join('\n') + '\n';
  writeFileSync(
    join(dir, 'train.jsonl'),
    rows([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]),
  );
  writeFileSync(
    join(dir, 'test.jsonl'),
    rows([
      [2, 2],
      [10, 20],
    ]),
  );
}

const baseConfig = {
  task: { train: 'train.jsonl', test: 'test.jsonl', input_field: 'q', answer_field: 'a', metric: 'exact_match' },
  batch_size: 2,
  grpo_n: 4,
  out_dir: '.',
  name: 'run',
};

test('two steps: the first learns the lesson from mixed groups, the second has nothing left to learn', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfgrpo-'));
  writeData(dir);
  const task = solver();
  const crit = critic();
  const result = await runTfGrpo(baseConfig, { taskModel: task, criticModel: crit, baseDir: dir, quiet: true });

  // held-out: eval_n 1 takes sample 0, wrong without the lesson and right with it
  assert.equal(result.before?.mean, 0);
  assert.equal(result.after?.mean, 1);
  assert.deepEqual(result.library.toRecord(), { G0: LESSON });
  assert.equal(result.steps.length, 2);
  // step 0: rollouts [wrong, right, wrong, right] per question → reward 0.5, both groups mixed
  assert.equal(result.steps[0].reward, 0.5);
  assert.equal(result.steps[0].frac_mixed_groups, 1);
  assert.deepEqual(
    [result.steps[0].update.summaries, result.steps[0].update.critiques, result.steps[0].update.added],
    [8, 2, 1],
  );
  // step 1: the lesson is in the prompt, every answer is right, no group is mixed, no critic call
  assert.equal(result.steps[1].reward, 1);
  assert.equal(result.steps[1].frac_reward_zero_std, 1);
  assert.equal(result.steps[1].update.learnedGroups, 0);
  assert.equal(crit.calls.length, 8 + 2 + 2 + 1);
  // every rollout asked for the whole group at the rollout temperature
  const rollouts = task.calls.filter((c) => c.opts.n === 4);
  assert.equal(rollouts.length, 4);
  assert.ok(rollouts.every((c) => c.opts.temperature === 0.7));

  const out = join(dir, 'run');
  for (const f of ['library.json', 'library_step0.json', 'library_step1.json', 'metrics.jsonl', 'result.json'])
    assert.ok(existsSync(join(out, f)), `${f} missing`);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => `${l.event}${l.phase ? `:${l.phase}` : ''}`),
    ['eval:before', 'step', 'step', 'eval:after'],
  );
  const saved = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(saved.heldout.after.mean, 1);

  // inference with the saved library
  const library = loadExperienceLibrary(join(out, 'library.json'));
  const answer = await answerWithExperiences(solver(), library, 'What is 40+2?', {
    systemPrompt: 'Solve it.',
    userTemplate: '{{input}}',
  });
  assert.equal(answer, '42');
});

test('the CLI entry reads YAML with paths relative to the config file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfgrpo-cli-'));
  writeData(dir);
  // no server is involved: the models are unreachable, so only config errors can be checked through the CLI path
  writeFileSync(
    join(dir, 'cfg.yaml'),
    'task:\n  train: train.jsonl\n  input_field: q\n  answer_field: a\nbatch_sise: 3\n',
  );
  await assert.rejects(tfgrpoCommand(join(dir, 'cfg.yaml'), { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof GrpoError);
    assert.match(e.message, /cfg\.yaml: unknown key 'batch_sise'/);
    return true;
  });
});

test('config: defaults from the paper, one clear error per bad key, templates checked', () => {
  const c = parseTfGrpoConfig({});
  assert.deepEqual(
    [c.epochs, c.batch_size, c.grpo_n, c.rollout_temperature, c.num_experiences_per_query],
    [1, 50, 5, 0.7, 1],
  );
  assert.equal(c.task_model.base_url, 'http://127.0.0.1:8000/v1');
  assert.equal(c.critic_model, null);
  assert.throws(() => parseTfGrpoConfig({ task_model: { modle: 'x' } }), /unknown key 'task_model\.modle'/);
  assert.throws(() => parseTfGrpoConfig({ grpo_n: 1 }), /'grpo_n': Too small/);
  assert.throws(
    () => parseTfGrpoConfig({ user_template: 'Q: {{question}}' }),
    /unknown placeholder\(s\) \{\{question\}\}/,
  );
  // every key is documented
  const reference = tfgrpoConfigReference().split('\n');
  assert.ok(reference.length > 30);
  for (const line of reference) assert.match(line, /\): \S/, `undocumented key: ${line}`);
});

test('a run left in out_dir itself (the layout before <out_dir>/<name>/) is named with how to continue it, not started afresh beside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfgrpo-old-'));
  writeData(dir);
  writeFileSync(join(dir, 'library.json'), '{}');
  await assert.rejects(
    runTfGrpo(baseConfig, { taskModel: solver(), criticModel: critic(), baseDir: dir, quiet: true }),
    (e: unknown) =>
      e instanceof GrpoError &&
      /holds an earlier run \(library\.json\).*move its files into .*run to continue it/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, 'run')), 'nothing written');
});

test('a second run in the same folder is refused (its metrics and library would mix in); overwrite replaces the first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfgrpo-twice-'));
  writeData(dir);
  const run = (extra: Record<string, unknown> = {}) =>
    runTfGrpo({ ...baseConfig, ...extra }, { taskModel: solver(), criticModel: critic(), baseDir: dir, quiet: true });
  await run();
  await assert.rejects(
    run(),
    (e: unknown) =>
      e instanceof GrpoError &&
      /run already holds a run \(library\.json, metrics\.jsonl, result\.json\): start afresh there with --overwrite/.test(
        e.message,
      ),
  );
  await run({ overwrite: true });
  const events = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).event);
  assert.deepEqual(events.filter((e) => e === 'step').length, 2, "one run's steps, not two runs' mixed");
});
