/** `grpo sft` and `grpo eval` through their exported functions and commander registration (no shared data). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerSftCommand, sftCommand } from '../../src/cli/sft.ts';
import { registerEvalCommand, runEval } from '../../src/cli/eval.ts';
import { loadSftConfig } from '../../src/sft/config.ts';
import { gradeMath } from '../../src/rewards/math/grade.ts';
import { hasThinkAnswerFormat } from '../../src/rewards/format.ts';
import { GrpoError } from '../../src/errors.ts';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'grpo-sft-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const quiet = () => {};

/** A config error: one GrpoError line that names the key. */
function configError(fn: () => unknown, key: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof GrpoError && e.code === 'config' && !e.message.includes('\n') && key.test(e.message),
  );
}

test('SFT keys are named as grpo train names them; each old name still works, with one warning line', (t) => {
  const warnings: string[] = [];
  t.mock.method(console, 'warn', (msg: string) => {
    warnings.push(msg);
  });
  const f = file(
    'old.yaml',
    [
      'output_dir: runs/old-sft',
      'train:',
      '  lr_schedule: cosine',
      '  lr: 0.001',
      '  warmup_steps: 3',
      '  epochs: 2',
      'eval:',
      '  every: 5',
      '  max_tokens: 9',
      '  final: false',
      'data:',
      '  path: embedded:addition',
      '  eval_path: held.jsonl',
    ].join('\n'),
  );
  const c = loadSftConfig(f, ['--train.beta2', '0.95', '--train.lr', '0.002']);
  assert.deepEqual(
    [
      c.out_dir,
      c.name,
      c.optimizer.schedule,
      c.optimizer.lr,
      c.optimizer.warmup_steps,
      c.optimizer.beta2,
      c.training.epochs,
    ],
    ['runs', 'old-sft', 'cosine', 0.002, 3, 0.95, 2],
  );
  assert.deepEqual(
    [c.training.eval_every, c.training.eval_max_tokens, c.training.eval_final, c.data.train, c.data.eval],
    [5, 9, false, 'embedded:addition', 'held.jsonl'],
  );
  const deprecated = (old: string, now: string) => `${f}: '${old}' is deprecated; use '${now}'`;
  assert.deepEqual(
    warnings,
    [
      `${deprecated('output_dir', 'out_dir')} (with 'name': the run folder is <out_dir>/<name>/)`,
      deprecated('train.lr_schedule', 'optimizer.schedule'),
      deprecated('train.lr', 'optimizer.lr'),
      deprecated('train.warmup_steps', 'optimizer.warmup_steps'),
      deprecated('train', 'training'),
      deprecated('eval.every', 'training.eval_every'),
      deprecated('eval.max_tokens', 'training.eval_max_tokens'),
      deprecated('eval.final', 'training.eval_final'),
      deprecated('data.path', 'data.train'),
      deprecated('data.eval_path', 'data.eval'),
      deprecated('train.beta2', 'optimizer.beta2'),
    ],
    'train.lr in the file and as a flag warns once',
  );
  configError(
    () => loadSftConfig(file('both.yaml', 'train:\n  lr_schedule: cosine\noptimizer:\n  schedule: linear\n')),
    /'train\.lr_schedule' and 'optimizer\.schedule' are the same key; keep 'optimizer\.schedule'/,
  );
  configError(
    () => loadSftConfig(file('both2.yaml', 'train:\n  epochs: 1\ntraining:\n  epochs: 2\n')),
    /'train\.epochs' and 'training\.epochs' are the same key/,
  );
  assert.equal(
    loadSftConfig(file('new.yaml', 'optimizer:\n  lr: 0.1\n'), ['--train.lr', '0.2']).optimizer.lr,
    0.2,
    "a flag under the old name overrides the file's new name",
  );
});

test('config errors are one line naming the key, from the file or from --flags', () => {
  configError(
    () => loadSftConfig(file('a.yaml', 'optimizer:\n  lrr: 0.1\n')),
    /unknown key 'optimizer\.lrr' \(did you mean 'optimizer\.lr'\?\)/,
  );
  configError(() => loadSftConfig(file('b.yaml', 'model:\n  init:\n    dimm: 3\n')), /unknown key 'model\.init\.dimm'/);
  configError(() => loadSftConfig(file('c.yaml', 'training:\n  batch_size: -2\n')), /'training\.batch_size'/);
  configError(() => loadSftConfig(null, ['--stage', 'grpo']), /'stage'/);
  configError(() => loadSftConfig(null, ['--rejection.temperature', 'hot']), /'rejection\.temperature'/);
  configError(() => loadSftConfig(null, ['--data.train', 'x.jsonl']), /model\.path is null/);
  configError(
    () => loadSftConfig(null, ['--training.micro_batch_size', '16']),
    /'training\.micro_batch_size' \(16\) is larger than 'training\.batch_size' \(8\)/,
  );
  configError(() => loadSftConfig(join(dir, 'missing.yaml')), /does not exist/);
  const c = loadSftConfig(file('d.yaml', 'stage: rejection_sampling\noptimizer:\n  lr: 0.001\n'), [
    '--optimizer.lr',
    '3e-3',
    '--rejection.n=4',
  ]);
  assert.equal(c.optimizer.lr, 3e-3);
  assert.equal(c.rejection.n, 4);
  assert.equal(c.stage, 'rejection_sampling');
  assert.equal(c.training.batch_size, 8, 'unset keys keep their defaults');
  assert.deepEqual(
    [c.optimizer.schedule, loadSftConfig(null).optimizer.lr],
    ['linear', 2e-5],
    'TRL SFTConfig defaults',
  );
});

test('grpo sft cold_start trains a new model on the embedded task and writes the run folder', async () => {
  const out = join(dir, 'cold');
  const lines: string[] = [];
  const cfg = file(
    'cold.yaml',
    [
      `out_dir: ${dir}`,
      'name: cold',
      'progress: false',
      'seed: 3',
      'model:',
      '  threads: 1',
      '  init: { dim: 32, n_layers: 1, n_heads: 2, ffn_dim: 64 }',
      'data:',
      '  limit: 400',
      '  eval_size: 8',
      'training:',
      '  max_steps: 12',
      '  batch_size: 8',
      '  micro_batch_size: 4',
      'optimizer:',
      '  lr: 0.003',
    ].join('\n'),
  );
  const r = await sftCommand(cfg, ['--training.eval_every', '6'], (l) => lines.push(l));
  assert.equal(r.train.steps, 12);
  assert.equal(r.examples, 400);
  assert.ok(r.before && r.after && r.train.losses[11] < r.train.losses[0]);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(metrics.length, 12);
  assert.equal(typeof metrics[5].eval_accuracy, 'number');
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).training.max_steps, 12);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
    assert.ok(existsSync(join(out, 'model', f)), f);
  assert.match(lines.join('\n'), /accuracy_before=\d\.\d{3} accuracy_after=\d\.\d{3}/);

  // grpo eval on the result: greedy, then pass@k with a JSONL of completions
  const printed: string[] = [];
  const greedy = await runEval({ model: join(out, 'model'), data: 'embedded:addition', limit: 8, threads: 1 }, (l) =>
    printed.push(l),
  );
  assert.equal(greedy.prompts, 8);
  assert.match(
    printed[0],
    /^accuracy=\d\.\d{3} format_rate=\d\.\d{3} mean_length=[\d.]+ truncated_rate=[\d.]+ prompts=8 samples=8$/,
  );
  const jsonl = join(dir, 'completions.jsonl');
  await runEval(
    {
      model: join(out, 'model'),
      data: 'embedded:addition',
      limit: 4,
      nSamples: 3,
      temperature: 1,
      out: jsonl,
      threads: 1,
    },
    (l) => printed.push(l),
  );
  assert.match(printed[1], /pass@3=/);
  const rows = readFileSync(jsonl, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, 12);
  assert.deepEqual(Object.keys(rows[0]).sort(), [
    'answer',
    'completion',
    'correct',
    'finish_reason',
    'format',
    'index',
    'prompt',
    'sample',
    'tokens',
  ]);
  await assert.rejects(
    runEval({ model: join(out, 'model'), data: 'embedded:addition', nSamples: 4 }, quiet),
    /pass --temperature/,
  );

  // cold start from a file of (prompt, completion) pairs, continuing from that checkpoint; eval on a JSONL file
  const pairs = file(
    'pairs.jsonl',
    [
      '{"prompt":"12+5=","completion":"<think>2+5=7,1+0=1</think><answer>17</answer>","answer":"17"}',
      '{"prompt":"40+3=","completion":"<think>0+3=3,4+0=4</think><answer>43</answer>","answer":"43"}',
    ].join('\n') + '\n',
  );
  const fromFile = await sftCommand(
    null,
    [
      '--model.path',
      join(out, 'model'),
      '--data.train',
      pairs,
      '--data.eval',
      pairs,
      '--optimizer.lr',
      '1e-3',
      '--training.batch_size',
      '2',
      '--progress',
      'false',
      '--out_dir',
      dir,
      '--name',
      'file-run',
    ],
    quiet,
  );
  assert.equal(fromFile.train.steps, 3, '3 epochs of one batch');
  assert.equal(fromFile.after?.prompts, 2);
  const fileEval = await runEval({ model: join(dir, 'file-run', 'model'), data: pairs, threads: 1 }, quiet);
  assert.equal(fileEval.prompts, 2);
});

test('grpo sft with model.lora trains adapters on the frozen shipped model and writes a PEFT folder that grpo eval --adapter uses', async () => {
  const out = join(dir, 'lora');
  const r = await sftCommand(
    null,
    [
      '--model.path',
      'embedded',
      '--model.threads',
      '1',
      '--model.lora.r',
      '8',
      '--out_dir',
      dir,
      '--name',
      'lora',
      '--progress',
      'false',
      '--data.limit',
      '64',
      '--data.eval_size',
      '8',
      '--training.max_steps',
      '6',
      '--training.batch_size',
      '8',
      '--optimizer.lr',
      '1e-3',
    ],
    quiet,
  );
  assert.ok(r.train.losses[5] < r.train.losses[0], `loss ${r.train.losses[0]} → ${r.train.losses[5]}`);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json'])
    assert.ok(existsSync(join(out, 'model', f)), f);
  assert.ok(!existsSync(join(out, 'model', 'model.safetensors')), 'the base is not saved');
  const config = JSON.parse(readFileSync(join(out, 'model', 'adapter_config.json'), 'utf8'));
  assert.deepEqual([config.r, config.lora_alpha, config.peft_type], [8, 32, 'LORA']);
  const withAdapter = await runEval(
    { model: 'embedded', adapter: join(out, 'model'), data: 'embedded:addition', limit: 8, threads: 1 },
    quiet,
  );
  assert.equal(withAdapter.prompts, 8);
});

test('grpo sft rejection_sampling keeps only correct, well-formatted samples of the shipped model and trains on them', async () => {
  const out = join(dir, 'rs');
  const lines: string[] = [];
  const r = await sftCommand(
    null,
    [
      '--stage',
      'rejection_sampling',
      '--model.path',
      'embedded',
      '--model.threads',
      '1',
      '--out_dir',
      dir,
      '--name',
      'rs',
      '--progress',
      'false',
      '--rejection.prompts',
      '24',
      '--rejection.n',
      '4',
      '--data.eval_size',
      '16',
      '--training.epochs',
      '1',
      '--training.batch_size',
      '8',
      '--optimizer.lr',
      '1e-4',
    ],
    (l) => lines.push(l),
  );
  const kept = readFileSync(join(out, 'rejection_samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(kept.length > 0);
  assert.equal(r.examples, kept.length);
  const prompts = new Map(kept.map((k) => [k.prompt, k]));
  for (const k of kept) {
    const [a, b] = k.prompt.slice(0, -1).split('+').map(Number);
    assert.ok(gradeMath(k.completion, String(a + b)), `kept a wrong answer: ${k.prompt}${k.completion}`);
    assert.ok(hasThinkAnswerFormat(k.completion));
    assert.equal(k.reward, 2);
  }
  assert.ok(prompts.size <= 24);
  assert.match(lines[0], /^rejection sampling: kept \d+ of 96 samples/);
});

test('commander registration: grpo sft passes --key value overrides through; grpo eval checks --template', async () => {
  const program = () => {
    const p = new Command('grpo').exitOverride();
    registerSftCommand(p);
    registerEvalCommand(p);
    return p;
  };
  await assert.rejects(
    program().parseAsync(['node', 'grpo', 'sft', '--optimizer.lrr', '1'], { from: 'node' }),
    /unknown key 'optimizer\.lrr'/,
  );
  await assert.rejects(
    program().parseAsync(
      ['node', 'grpo', 'eval', '--model', 'embedded', '--data', 'embedded:addition', '--template', 'fancy'],
      { from: 'node' },
    ),
    /--template must be raw, r1_zero or chat/,
  );
});

test('grpo sft refuses a run folder that holds an earlier run, and --overwrite replaces it', async () => {
  const args = [
    '--out_dir',
    dir,
    '--name',
    'twice',
    '--progress',
    'false',
    '--data.limit',
    '16',
    '--training.max_steps',
    '1',
    '--training.batch_size',
    '8',
    '--training.eval_final',
    'false',
  ];
  await sftCommand(null, args, quiet);
  const model = join(dir, 'twice', 'model');
  assert.ok(existsSync(model));
  await assert.rejects(
    sftCommand(null, args, quiet),
    (e: unknown) =>
      e instanceof GrpoError &&
      /twice already holds a run \(config\.json, metrics\.jsonl, model\): start afresh there with --overwrite/.test(
        e.message,
      ) &&
      !/--resume/.test(e.message),
  );
  writeFileSync(join(dir, 'twice', 'metrics.jsonl'), 'stale\n');
  await sftCommand(null, [...args, '--overwrite', 'true'], quiet);
  assert.ok(
    !readFileSync(join(dir, 'twice', 'metrics.jsonl'), 'utf8').includes('stale'),
    "the earlier run's metrics are gone",
  );
  assert.ok(existsSync(model));
});
