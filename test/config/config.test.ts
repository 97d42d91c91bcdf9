/** The shared config module: every command reads, overrides, validates and renames keys the same way. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { readConfigFile, type ConfigDefinition } from '../../src/config/index.ts';
import { trainConfig } from '../../src/trainer/config/load.ts';
import { configReference } from '../../src/trainer/config/reference.ts';
import { SFT_DEPRECATED_KEYS, sftConfig } from '../../src/sft/config.ts';
import { tfgrpoConfig } from '../../src/trainingfree/tfgrpo/config.ts';
import { gepaConfig } from '../../src/trainingfree/gepa/config.ts';
import { pipelineConfig } from '../../src/pipeline/config.ts';
import { GrpoError } from '../../src/errors.ts';
import { coldStartRecipe } from '../../scripts/cold-start-recipe.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'grpo-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, value: unknown) => {
  const p = path.join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : YAML.stringify(value));
  return p;
};
/** The one line of the GrpoError `fn` throws. */
function errorLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof GrpoError && e.code === 'config', String(e));
    assert.ok(!e.message.includes('\n'), e.message);
    return e.message;
  }
  assert.fail('no error');
}

const trainBase = { model: { path: 'm' }, data: { train: 'd.jsonl' } };
const tfgrpoBase = { task: { train: 't.jsonl' } };
// each command with a valid minimal config and a misspelt key of its own
const commands: [string, ConfigDefinition<never>, Record<string, unknown>, string, string][] = [
  [
    'train',
    trainConfig as never,
    trainBase,
    'optimizer.lrr',
    "unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)",
  ],
  ['sft', sftConfig as never, {}, 'optimizer.lrr', "unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)"],
  ['tfgrpo', tfgrpoConfig as never, tfgrpoBase, 'batch_sise', "unknown key 'batch_sise' (did you mean 'batch_size'?)"],
  ['gepa', gepaConfig as never, tfgrpoBase, 'use_merg', "unknown key 'use_merg' (did you mean 'use_merge'?)"],
  [
    'pipeline',
    pipelineConfig as never,
    { model: 'embedded', stages: [{ name: 'a', kind: 'sft' }] },
    'stagez',
    "unknown key 'stagez' (did you mean 'stages'?)",
  ],
];

test('an unknown key in any command is one error line naming the key, from the file or from a flag', () => {
  for (const [command, def, base, key, message] of commands) {
    const f = file(`${command}.yaml`, base);
    assert.equal(
      errorLine(() => def.load(f, [`--${key}`, '1'])),
      `${f}: ${message}`,
      command,
    );
    const bad = structuredClone(base);
    const [section, leaf] = key.includes('.') ? key.split('.') : [null, key];
    if (section) bad[section] = { [leaf]: 1 };
    else bad[leaf] = 1;
    assert.equal(
      errorLine(() => def.parse(bad)),
      `${command} config: ${message}`,
      command,
    );
  }
  // several problems: still one line, each key named
  const line = errorLine(() => sftConfig.parse({ optimizer: { lr: -1, betaa: 0.9 }, seed: 'x' }));
  for (const part of [
    /'seed': /,
    /'optimizer\.lr': /,
    /unknown key 'optimizer\.betaa' \(did you mean 'optimizer\.beta1'\?\)/,
  ])
    assert.match(line, part);
  assert.equal(line.split('; ').length, 3);
});

test('the shared sections reject the same bad values the same way in train and sft', () => {
  const bad: [string, unknown][] = [
    ['model.precision', 'f16'],
    ['model.device', 'tpu'],
    ['model.threads', 0],
    ['model.tokenizer', 3],
    ['model.base_precision', 'q4'],
    ['model.lora.r', 0],
    ['model.lora.target_modules', ['lm_head']],
    ['model.lora.rank', 8],
    ['optimizer.lr', -1],
    ['optimizer.schedule', 'step'],
    ['optimizer.warmup_steps', 1.5],
    ['optimizer.min_lr_ratio', 2],
    ['optimizer.weight_decay', -0.1],
    ['optimizer.beta1', 1],
    ['optimizer.beta2', -0.5],
    ['optimizer.eps', 0],
    ['optimizer.max_grad_norm', 0],
    ['name', 'a b'],
    ['out_dir', 3],
    ['seed', 0.5],
  ];
  for (const [key, value] of bad) {
    const flag = [`--${key}`, JSON.stringify(value)];
    const train = errorLine(() => trainConfig.withOverrides(trainBase, flag, 'cfg'));
    const sft = errorLine(() => sftConfig.withOverrides({}, flag, 'cfg'));
    assert.equal(sft, train, key);
    assert.ok(train.includes(`'${key}`), train);
  }
  for (const def of [trainConfig, sftConfig]) {
    const c = def.withOverrides(trainBase, ['--model.tokenizer', 'null', '--model.threads', 'null'], 'cfg') as {
      model: { tokenizer?: string; threads?: number };
    };
    assert.deepEqual(
      [c.model.tokenizer, c.model.threads],
      [undefined, undefined],
      'null means unset, as SFT configs wrote it',
    );
  }
  // the same keys, their own defaults: RL fine-tuning at a small constant lr, SFT as TRL's SFTConfig
  const t = trainConfig.parse(trainBase),
    s = sftConfig.parse({});
  assert.deepEqual(
    [t.optimizer.lr, t.optimizer.schedule, s.optimizer.lr, s.optimizer.schedule],
    [1e-6, 'constant', 2e-5, 'linear'],
  );
  assert.deepEqual({ ...t.optimizer, lr: 0, schedule: 0 }, { ...s.optimizer, lr: 0, schedule: 0 });
  assert.deepEqual(
    [t.name, t.out_dir, s.name, s.out_dir, tfgrpoConfig.parse(tfgrpoBase).name, gepaConfig.parse(tfgrpoBase).name],
    ['run', 'runs', 'sft', 'runs', 'tfgrpo', 'gepa'],
  );
});

test('null on the command line unsets an optional key (its default, or absent); a nullable key takes null', () => {
  const f = file('nulls.yaml', {
    ...trainBase,
    data: { train: 'd.jsonl', eval: 'e.jsonl', mapping: 'math' },
    model: { path: 'm', lora: { r: 4 } },
    optimizer: { lr: 0.5 },
    training: { eval_max_tokens: 64 },
    algorithm: { epsilon: 0.3 },
  });
  const c = trainConfig.load(f, [
    '--data.eval',
    'null',
    '--data.mapping=null',
    '--model.lora',
    'null',
    '--optimizer.lr',
    'null',
    '--training.eval_max_tokens',
    'null',
    '--algorithm.epsilon',
    'null',
  ]).config;
  assert.deepEqual(
    [c.data.eval, c.data.mapping, c.model.lora, c.optimizer.lr, c.training.eval_max_tokens, c.algorithm.epsilon],
    [undefined, undefined, undefined, 1e-6, undefined, undefined],
  );
  assert.ok(!('eval' in c.data), 'unset, not null');
  // a key whose null means something keeps it: sft's model.path null trains a new model, tfgrpo's critic_model
  // null is the task model
  const s = sftConfig.load(file('sft-null.yaml', { model: { path: 'm' } }), ['--model.path', 'null']).config;
  assert.equal(s.model.path, null);
  const tf = tfgrpoConfig.load(file('tf-null.yaml', { ...tfgrpoBase, critic_model: { model: 'x' } }), [
    '--critic_model',
    'null',
  ]).config;
  assert.equal(tf.critic_model, null);
  // a required key unset is named; a misspelt one is still named as unknown
  assert.match(
    errorLine(() => trainConfig.load(f, ['--model.path', 'null'])),
    /'model\.path': /,
  );
  assert.match(
    errorLine(() => trainConfig.load(f, ['--data.evl', 'null'])),
    /unknown key 'data\.evl'/,
  );
});

test('overrides as an object are deep-merged over the file and validated as flags are', (t) => {
  const f = file('object.yaml', {
    ...trainBase,
    data: { train: 'd.jsonl', eval: 'e.jsonl', eval_size: 7 },
    optimizer: { lr: 0.5, warmup_steps: 3 },
    rewards: [{ type: 'math' }, { type: 'format' }],
  });
  const c = trainConfig.load(f, {
    optimizer: { lr: 1e-4 },
    data: { eval: null },
    model: { lora: {} },
    rewards: [{ type: 'countdown' }],
  }).config;
  assert.deepEqual(
    [c.optimizer.lr, c.optimizer.warmup_steps, c.data.train, c.data.eval, c.data.eval_size, c.model.path],
    [1e-4, 3, 'd.jsonl', undefined, 7, 'm'],
  );
  assert.equal(c.model.lora?.r, 16, 'an empty section adds it with its defaults');
  assert.deepEqual(
    c.rewards.map((r) => r.type),
    ['countdown'],
    'a list replaces the one in the file',
  );
  // the same checks and one-line errors as flags
  assert.equal(
    errorLine(() => trainConfig.load(f, { optimizer: { lrr: 1 } } as never)),
    `${f}: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)`,
  );
  assert.match(
    errorLine(() => trainConfig.load(f, { optimizer: { lr: -1 } })),
    /'optimizer\.lr': /,
  );
  // an SFT key under its old name still lands on the new one, with the warning
  const warned: string[] = [];
  t.mock.method(console, 'warn', (m: string) => warned.push(m));
  const s = sftConfig.load(null, { train: { lr: 3e-4 } } as never).config;
  assert.equal(s.optimizer.lr, 3e-4);
  assert.equal(warned.length, 1);
});

test('each deprecated SFT key lands on its new key and warns once', (t) => {
  const warnings: string[] = [];
  t.mock.method(console, 'warn', (msg: string) => {
    warnings.push(msg);
  });
  const sample: Record<string, unknown> = {
    'optimizer.lr': 0.01,
    'optimizer.schedule': 'cosine',
    'optimizer.warmup_steps': 2,
    'optimizer.min_lr_ratio': 0.1,
    'optimizer.weight_decay': 0.1,
    'optimizer.beta1': 0.8,
    'optimizer.beta2': 0.9,
    'optimizer.eps': 1e-6,
    'optimizer.max_grad_norm': 2,
    training: { epochs: 2 },
    'training.eval_every': 3,
    'training.eval_max_tokens': 7,
    'training.eval_final': false,
    'data.train': 'embedded:addition',
    'data.eval': 'x.jsonl',
  };
  const at = (o: unknown, key: string) => key.split('.').reduce((x, k) => (x as Record<string, unknown>)[k], o);
  for (const alias of SFT_DEPRECATED_KEYS) {
    warnings.length = 0;
    if (alias.old === 'output_dir') {
      const c = sftConfig.withOverrides({ output_dir: 'runs/x/cold' }, ['--output_dir', 'runs/y/warm'], 'cfg');
      assert.deepEqual([c.out_dir, c.name], [path.join('runs', 'y'), 'warm']);
    } else {
      const value = sample[alias.now];
      const raw: Record<string, unknown> = {};
      const [section, leaf] = alias.old.split('.');
      raw[section] = leaf ? { [leaf]: value } : value;
      const c = sftConfig.withOverrides(raw, [`--${alias.old}`, JSON.stringify(value)], 'cfg');
      assert.deepEqual(
        at(c, alias.now),
        alias.now === 'training' ? { ...(at(sftConfig.parse({}), 'training') as object), epochs: 2 } : value,
        alias.old,
      );
    }
    assert.equal(warnings.length, 1, `${alias.old}: ${warnings.join(' | ')}`);
    assert.match(warnings[0], new RegExp(`^cfg: '${alias.old}' is deprecated; use '${alias.now}'`));
  }
});

test("a config written by an earlier grpo sft (the shipped model's calibration record) loads as the same run under the new names", (t) => {
  t.mock.method(console, 'warn', () => {});
  const recorded = JSON.parse(
    readFileSync(path.join(import.meta.dirname, '../../models/embedded/calibration.json'), 'utf8'),
  ).sft_config;
  assert.equal(recorded.train.lr_schedule, 'cosine', 'the record uses the old names');
  const recipe = coldStartRecipe({
    task: 'embedded:addition',
    name: 'demo-pretrain',
    examples: 50_000,
    taskOptions: { carry_slip_rate: 0.7 },
    steps: 3000,
    maxSeqLen: 64,
  });
  const json = (x: unknown) => JSON.parse(JSON.stringify(x));
  assert.deepEqual(
    json(sftConfig.parse(recorded)),
    json(sftConfig.parse(recipe)),
    'null and unset model.threads are the same',
  );
});

test('describe output lists the aligned names, not the deprecated ones', () => {
  const keys = (reference: string) => reference.split('\n').map((l) => l.split(' ')[0]);
  const sft = keys(sftConfig.reference());
  for (const k of [
    'name',
    'out_dir',
    'seed',
    'data.train',
    'data.eval',
    'optimizer.lr',
    'optimizer.schedule',
    'optimizer.max_grad_norm',
    'training.epochs',
    'training.eval_every',
    'model.lora.r',
    'model.device',
  ]) {
    assert.ok(sft.includes(k), k);
  }
  for (const old of SFT_DEPRECATED_KEYS) assert.ok(!sft.includes(old.old), old.old);
  for (const def of [tfgrpoConfig, gepaConfig])
    for (const k of ['name', 'out_dir', 'seed']) assert.ok(keys(def.reference()).includes(k), k);
  const train = configReference();
  for (const k of [
    'name',
    'out_dir',
    'seed',
    'overwrite',
    'optimizer',
    'lr',
    'schedule',
    'warmup_steps',
    'max_grad_norm',
  ])
    assert.match(train, new RegExp(`^\\s*${k}:`, 'm'), k);
});

test("one file reader: missing, invalid and non-mapping files are one line each; the file's folder comes back", () => {
  assert.match(
    errorLine(() => readConfigFile(path.join(dir, 'none.yaml'))),
    /config file .*none\.yaml does not exist/,
  );
  assert.match(
    errorLine(() => readConfigFile(file('bad.yaml', 'model: [oops'))),
    /bad\.yaml is not valid YAML/,
  );
  assert.match(
    errorLine(() => readConfigFile(file('list.yaml', '- a\n- b\n'))),
    /list\.yaml must hold a mapping of keys .*not a list/,
  );
  assert.deepEqual(readConfigFile(file('empty.yaml', '')), { raw: {}, baseDir: dir });
  const { config, baseDir } = tfgrpoConfig.load(file('tf.yaml', tfgrpoBase), [
    '--grpo_n',
    '3',
    '--task_model.concurrency=2',
  ]);
  assert.deepEqual([config.grpo_n, config.task_model.concurrency, baseDir], [3, 2, dir]);
});
