import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTrainConfig, validateTrainConfig } from '../../src/trainer/config/load.ts';
import { parseOverrides } from '../../src/config/index.ts';
import { resolveAlgorithm, methodPresets } from '../../src/trainer/config/presets.ts';
import { GrpoError } from '../../src/errors.ts';

const base = { model: { path: 'm' }, data: { train: 'd.jsonl' } };
const oneLine = (re: RegExp) => (e: unknown) =>
  e instanceof GrpoError && re.test(e.message) && !e.message.includes('\n');

test('every key has a default: a minimal config fills all sections', () => {
  const c = validateTrainConfig(base);
  assert.equal(c.rollout.group_size, 8);
  assert.equal(c.algorithm.preset, 'grpo');
  assert.equal(c.optimizer.max_grad_norm, 1);
  assert.equal(c.training.steps, 100);
  assert.deepEqual(
    c.rewards.map((r) => r.type),
    ['math', 'format'],
  );
});

test('a bad key is one error line naming the key, with a suggestion when it is close', () => {
  assert.throws(
    () => validateTrainConfig({ ...base, algorithm: { epsilon_hgh: 0.3 } }),
    oneLine(/'algorithm\.epsilon_hgh': unknown key \(did you mean 'epsilon_high'\?\)/),
  );
  assert.throws(
    () => validateTrainConfig({ ...base, rollout: { group_size: 'eight' } }),
    oneLine(/'rollout\.group_size': .*expected number/),
  );
  assert.throws(() => validateTrainConfig({ ...base, algorithm: { preset: 'grpoo' } }), oneLine(/'algorithm\.preset'/));
  assert.throws(() => validateTrainConfig({ data: base.data }), oneLine(/'model'/));
  assert.throws(
    () => validateTrainConfig({ ...base, rewards: [{ type: 'math', wieght: 2 }] }),
    oneLine(/unknown key 'rewards\.0\.wieght'/),
  );
});

test('YAML file plus --a.b value overrides; values read as YAML scalars', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  try {
    const f = path.join(dir, 'run.yaml');
    writeFileSync(f, 'model: { path: m }\ndata: { train: d.jsonl }\nrollout: { group_size: 4 }\n');
    const c = loadTrainConfig(f, [
      '--rollout.group_size',
      '16',
      '--algorithm.preset=dapo',
      '--rollout.stop',
      '[x, y]',
      '--name',
      'r2',
    ]);
    assert.equal(c.rollout.group_size, 16);
    assert.equal(c.algorithm.preset, 'dapo');
    assert.deepEqual(c.rollout.stop, ['x', 'y']);
    assert.equal(c.name, 'r2');
    writeFileSync(f, 'model: [oops');
    assert.throws(() => loadTrainConfig(f), oneLine(/not valid YAML/));
    assert.throws(() => loadTrainConfig(path.join(dir, 'missing.yaml')), oneLine(/does not exist/));
    // a bare flag is a boolean switched on; on a key that is not boolean, validation names it
    assert.deepEqual(parseOverrides(['--overwrite', '--training.check_memory', 'false', '--progress']), [
      ['overwrite', true],
      ['training.check_memory', false],
      ['progress', true],
    ]);
    const g = path.join(dir, 'ok.yaml');
    writeFileSync(g, 'model: { path: m }\ndata: { train: d.jsonl }\n');
    assert.throws(
      () => loadTrainConfig(g, ['--rollout.group_size']),
      oneLine(/'rollout\.group_size': .*expected number/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("presets carry their papers' defaults", () => {
  const run = { groupSize: 8, maxTokens: 100 };
  const r = (preset: string, extra = {}) => {
    const a = resolveAlgorithm({ ...validateTrainConfig(base).algorithm, preset, ...extra }, run);
    return { ...a, ...a.advantage_options, ...a.loss_options, ...a.transform_options } as Record<string, unknown>;
  };
  const pick = (preset: string, keys: string[]) => keys.map((k) => r(preset)[k]);
  assert.deepEqual(pick('grpo', ['advantage', 'epsilon', 'kl_beta', 'aggregation', 'mini_batches']), [
    'grpo',
    0.2,
    0.04,
    'seq-mean-token-mean',
    1,
  ]);
  assert.deepEqual(
    pick('dapo', [
      'epsilon',
      'epsilon_high',
      'aggregation',
      'dynamic_sampling',
      'dynamic_sampling_metric',
      'kl_beta',
      'mini_batches',
    ]),
    [0.2, 0.28, 'token-mean', true, 'accuracy', 0, 16],
  );
  assert.equal(r('dapo').soft_overlong_cache, 20, 'DAPO cache = 20% of the limit (4096 of 20480)');
  assert.deepEqual(pick('dr_grpo', ['advantage', 'aggregation']), ['dr_grpo', 'seq-mean-token-sum-norm']);
  assert.deepEqual(pick('gspo', ['loss', 'epsilon', 'epsilon_high', 'mini_batches']), ['gspo', 3e-4, 4e-4, 4]);
  assert.deepEqual(pick('gspo_token', ['loss', 'epsilon', 'epsilon_high', 'log_ratio_clamp']), [
    'gspo_token',
    3e-4,
    4e-4,
    10,
  ]);
  assert.deepEqual(
    pick('gfpo', ['gfpo_keep', 'aggregation']),
    [4, 'token-mean'],
    'keep half of G; DAPO token-mean as TRL GFPO',
  );
  assert.deepEqual(
    pick('ppo', ['advantage', 'gamma', 'lambda', 'value_clip', 'std', 'whiten_advantages', 'require_stop']),
    ['gae', 1, 1, 0.2, 'population', true, true],
  );
  assert.equal(pick('grpo', ['require_stop'])[0], false, 'only ORZ zeroes truncated completions');
  assert.equal(pick('ppo', ['aggregation'])[0], 'token-mean', "ORZ's packed rows: a token mean over the batch");
  assert.deepEqual(
    [pick('reinforce_pp', ['kl_clamp'])[0], pick('grpo', ['kl_clamp'])[0]],
    [10, 0],
    "OpenRLHF clamps each token's KL to ±10; TRL does not",
  );
  assert.deepEqual(pick('rloo', ['advantage', 'loss', 'kl_placement', 'kl_beta']), ['rloo', 'rloo', 'reward', 0.05]);
  assert.deepEqual(pick('disco', ['loss', 'mini_batches', 'disco_tau']), ['disco', 4, 10]);
  assert.deepEqual(pick('gvpo', ['loss', 'mini_batches', 'gvpo_beta']), ['gvpo', 4, 0.1]);
  assert.deepEqual([r('reinforce_pp').advantage, r('gdpo').advantage], ['reinforce_pp', 'gdpo']);
  assert.deepEqual(methodPresets.names(), [
    'grpo',
    'dr_grpo',
    'dapo',
    'gspo',
    'gspo_token',
    'gfpo',
    'gdpo',
    'rloo',
    'reinforce_pp',
    'ppo',
    'disco',
    'gvpo',
  ]);
});

test('any knob overrides its preset; a symmetric clip follows an overridden epsilon', () => {
  const run = { groupSize: 8, maxTokens: 100 };
  const a = validateTrainConfig({
    ...base,
    algorithm: { preset: 'dapo', epsilon_high: 0.3, kl_beta: 0.01, hicra_alpha: 0.2 },
  }).algorithm;
  const d = resolveAlgorithm(a, run);
  assert.deepEqual(
    [d.loss_options.epsilon_high, d.kl_beta, d.transform_options.hicra_alpha, d.transform_options.dynamic_sampling],
    [0.3, 0.01, 0.2, true],
  );
  assert.deepEqual(
    d.batch_transforms.map((t) => t.transform.name),
    ['soft_overlong', 'dynamic_sampling', 'hicra'],
    'the transforms their keys turn on, in registration order',
  );
  const g = resolveAlgorithm(validateTrainConfig({ ...base, algorithm: { epsilon: 0.1 } }).algorithm, run);
  assert.deepEqual(
    [g.loss_options.epsilon, g.loss_options.epsilon_high],
    [0.1, undefined],
    'undefined: the ceiling follows epsilon',
  );
  const dapo = resolveAlgorithm(
    validateTrainConfig({ ...base, algorithm: { preset: 'dapo', epsilon: 0.1 } }).algorithm,
    run,
  );
  assert.deepEqual(
    [dapo.loss_options.epsilon, dapo.loss_options.epsilon_high],
    [0.1, 0.28],
    'an asymmetric preset keeps its own upper clip',
  );
});

test('method options are checked against the chosen methods: one line naming the key', () => {
  const bad = (algorithm: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => validateTrainConfig({ ...base, algorithm }), oneLine(re));
  bad({ epsilonn: 0.1 }, /'algorithm\.epsilonn': unknown key \(did you mean 'epsilon'\?\)/);
  bad(
    { disco_tau: 5 },
    /'algorithm\.disco_tau': an option of policy loss 'disco', but this run's advantage is 'grpo' and its loss 'ppo'/,
  );
  bad({ preset: 'disco', disco_tau: -1 }, /'algorithm\.disco_tau': .*policy loss 'disco'/);
  bad({ preset: 'nope' }, /'algorithm\.preset': unknown method preset 'nope'; use one of grpo, /);
  bad({ loss: 'nope' }, /'algorithm\.loss': unknown policy loss 'nope'/);
  bad(
    { preset: 'dr_grpo', scale_rewards: 'group' },
    /'algorithm\.scale_rewards': an option of advantage estimator 'grpo', but this run's advantage is 'dr_grpo'/,
  );
  assert.equal(validateTrainConfig({ ...base, algorithm: { preset: 'disco', disco_tau: 5 } }).algorithm.disco_tau, 5);
});

test('reward options are checked against the reward type: one line naming the key', () => {
  const bad = (rewards: unknown[], re: RegExp) =>
    assert.throws(() => validateTrainConfig({ ...base, rewards }), oneLine(re));
  bad(
    [{ type: 'math', options: { answer_key: 'x' } }],
    /'rewards\.0': options\.answer_key is not an option of reward 'math' \(its options: .*answerKey/,
  );
  bad([{ type: 'format', options: { strict: 'yes' } }], /'rewards\.0': options\.strict: /);
  bad([{ type: 'maths' }], /'rewards\.0': type 'maths' is unknown; use one of math, /);
  bad([{ type: 'overlong', options: { cacheLength: 4 } }], /options\.maxCompletionLength/);
  assert.deepEqual(
    validateTrainConfig({ ...base, rewards: [{ type: 'math', options: { answerKey: 'solution' } }] }).rewards[0]
      .options,
    { answerKey: 'solution' },
  );
});

test('grpo config prints a complete, valid YAML whose algorithm knobs are exactly the preset', async () => {
  const { configReference } = await import('../../src/trainer/config/reference.ts');
  const YAML = (await import('yaml')).default;
  for (const preset of methodPresets.names()) {
    const parsed = YAML.parse(configReference(preset).replaceAll('<required>', 'x'));
    const c = validateTrainConfig(parsed);
    const run = { groupSize: c.rollout.group_size, maxTokens: c.rollout.max_tokens };
    assert.deepEqual(
      resolveAlgorithm(c.algorithm, run),
      resolveAlgorithm(validateTrainConfig({ ...base, algorithm: { preset } }).algorithm, run),
      preset,
    );
    assert.deepEqual(
      { ...c, model: { ...c.model, ...base.model }, data: { ...c.data, train: base.data.train } },
      validateTrainConfig({ ...base, algorithm: c.algorithm }),
    );
  }
});

test("the LoRA recipe (configs/gsm8k-qwen-lora.yaml) is a valid config with PEFT's defaults; lora keys are checked", () => {
  const file = path.join(import.meta.dirname, '../../configs/gsm8k-qwen-lora.yaml');
  const c = loadTrainConfig(file, ['--model.path', '/models/qwen', '--data.train', '/data/gsm8k.jsonl']);
  assert.deepEqual(c.model.lora, {
    r: 16,
    alpha: 32,
    dropout: 0,
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    use_rslora: false,
  });
  assert.equal(c.model.base_precision, 'bf16');
  assert.equal(c.training.gradient_checkpointing, true);
  assert.throws(
    () => validateTrainConfig({ ...base, model: { path: 'm', lora: { target_modules: ['lm_head'] } } }),
    oneLine(/target_modules/),
  );
  assert.throws(() => validateTrainConfig({ ...base, model: { path: 'm', lora: { rank: 8 } } }), oneLine(/rank/));
});
