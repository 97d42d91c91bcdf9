import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTrainConfig, parseOverrides, validateTrainConfig } from '../../src/trainer/config/load.ts';
import { resolveAlgorithm, PRESETS } from '../../src/trainer/config/presets.ts';
import { PRESET_NAMES } from '../../src/trainer/config/schema.ts';
import { GrpoError } from '../../src/errors.ts';

const base = { model: { path: 'm' }, data: { train: 'd.jsonl' } };
const oneLine = (re: RegExp) => (e: unknown) => e instanceof GrpoError && re.test(e.message) && !e.message.includes('\n');

test('every key has a default: a minimal config fills all sections', () => {
  const c = validateTrainConfig(base);
  assert.equal(c.rollout.group_size, 8);
  assert.equal(c.algorithm.preset, 'grpo');
  assert.equal(c.optimizer.max_grad_norm, 1);
  assert.equal(c.training.steps, 100);
  assert.deepEqual(c.rewards.map((r) => r.type), ['math', 'format']);
});

test('a bad key is one error line naming the key, with a suggestion when it is close', () => {
  assert.throws(() => validateTrainConfig({ ...base, algorithm: { epsilon_hgh: 0.3 } }), oneLine(/unknown key 'algorithm\.epsilon_hgh' \(did you mean 'algorithm\.epsilon_high'\?\)/));
  assert.throws(() => validateTrainConfig({ ...base, rollout: { group_size: 'eight' } }), oneLine(/'rollout\.group_size': .*expected number/));
  assert.throws(() => validateTrainConfig({ ...base, algorithm: { preset: 'grpoo' } }), oneLine(/'algorithm\.preset'/));
  assert.throws(() => validateTrainConfig({ data: base.data }), oneLine(/'model'/));
  assert.throws(() => validateTrainConfig({ ...base, rewards: [{ type: 'math', wieght: 2 }] }), oneLine(/unknown key 'rewards\.0\.wieght'/));
});

test('YAML file plus --a.b value overrides; values read as YAML scalars', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  try {
    const f = path.join(dir, 'run.yaml');
    writeFileSync(f, 'model: { path: m }\ndata: { train: d.jsonl }\nrollout: { group_size: 4 }\n');
    const c = loadTrainConfig(f, ['--rollout.group_size', '16', '--algorithm.preset=dapo', '--rollout.stop', '[x, y]', '--name', 'r2']);
    assert.equal(c.rollout.group_size, 16);
    assert.equal(c.algorithm.preset, 'dapo');
    assert.deepEqual(c.rollout.stop, ['x', 'y']);
    assert.equal(c.name, 'r2');
    writeFileSync(f, 'model: [oops');
    assert.throws(() => loadTrainConfig(f), oneLine(/not valid YAML/));
    assert.throws(() => loadTrainConfig(path.join(dir, 'missing.yaml')), oneLine(/does not exist/));
    assert.throws(() => parseOverrides(['--rollout.group_size']), oneLine(/needs a value/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('presets carry their papers\' defaults', () => {
  const run = { groupSize: 8, maxTokens: 100 };
  const r = (preset: (typeof PRESET_NAMES)[number], extra = {}) => resolveAlgorithm({ ...validateTrainConfig(base).algorithm, preset, ...extra }, run);
  assert.deepEqual([r('grpo').advantage, r('grpo').epsilon, r('grpo').kl_beta, r('grpo').aggregation], ['grpo', 0.2, 0.04, 'seq-mean-token-mean']);
  assert.deepEqual([r('dapo').epsilon, r('dapo').epsilon_high, r('dapo').aggregation, r('dapo').dynamic_sampling, r('dapo').kl_beta], [0.2, 0.28, 'token-mean', true, 0]);
  assert.equal(r('dapo').soft_overlong_cache, 20, 'DAPO cache = 20% of the limit (4096 of 20480)');
  assert.deepEqual([r('dr_grpo').advantage, r('dr_grpo').aggregation], ['dr_grpo', 'seq-mean-token-sum-norm']);
  assert.deepEqual([r('gspo').loss, r('gspo').epsilon, r('gspo').epsilon_high], ['gspo', 3e-4, 4e-4]);
  assert.equal(r('gfpo').gfpo_keep, 4, 'keep half of G');
  assert.deepEqual([r('ppo').advantage, r('ppo').gamma, r('ppo').lambda, r('ppo').value_clip], ['gae', 1, 1, 0.2]);
  assert.deepEqual([r('rloo').kl_placement, r('reinforce_pp').advantage, r('disco').loss, r('gvpo').loss, r('gdpo').advantage], ['reward', 'reinforce_pp', 'disco', 'gvpo', 'gdpo']);
  assert.equal(Object.keys(PRESETS).length, PRESET_NAMES.length);
});

test('any knob overrides its preset; a symmetric clip follows an overridden epsilon', () => {
  const run = { groupSize: 8, maxTokens: 100 };
  const a = validateTrainConfig({ ...base, algorithm: { preset: 'dapo', epsilon_high: 0.3, kl_beta: 0.01, hicra_alpha: 0.2 } }).algorithm;
  const d = resolveAlgorithm(a, run);
  assert.deepEqual([d.epsilon_high, d.kl_beta, d.hicra_alpha, d.dynamic_sampling], [0.3, 0.01, 0.2, true]);
  const g = resolveAlgorithm(validateTrainConfig({ ...base, algorithm: { epsilon: 0.1 } }).algorithm, run);
  assert.deepEqual([g.epsilon, g.epsilon_high], [0.1, 0.1]);
  const dapo = resolveAlgorithm(validateTrainConfig({ ...base, algorithm: { preset: 'dapo', epsilon: 0.1 } }).algorithm, run);
  assert.deepEqual([dapo.epsilon, dapo.epsilon_high], [0.1, 0.28], 'an asymmetric preset keeps its own upper clip');
});

test('grpo config prints a complete, valid YAML whose algorithm knobs are exactly the preset', async () => {
  const { configReference } = await import('../../src/trainer/config/reference.ts');
  const YAML = (await import('yaml')).default;
  for (const preset of PRESET_NAMES) {
    const parsed = YAML.parse(configReference(preset).replaceAll('<required>', 'x'));
    const c = validateTrainConfig(parsed);
    const run = { groupSize: c.rollout.group_size, maxTokens: c.rollout.max_tokens };
    assert.deepEqual(resolveAlgorithm(c.algorithm, run), resolveAlgorithm(validateTrainConfig({ ...base, algorithm: { preset } }).algorithm, run), preset);
    assert.deepEqual({ ...c, model: { ...c.model, ...base.model }, data: { ...c.data, train: base.data.train } }, validateTrainConfig({ ...base, algorithm: c.algorithm }));
  }
});

test('the LoRA recipe (configs/gsm8k-qwen-lora.yaml) is a valid config with PEFT\'s defaults; lora keys are checked', () => {
  const file = path.join(import.meta.dirname, '../../configs/gsm8k-qwen-lora.yaml');
  const c = loadTrainConfig(file, ['--model.path', '/models/qwen', '--data.train', '/data/gsm8k.jsonl']);
  assert.deepEqual(c.model.lora, { r: 16, alpha: 32, dropout: 0, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], use_rslora: false });
  assert.equal(c.model.base_precision, 'bf16');
  assert.equal(c.training.gradient_checkpointing, true);
  assert.throws(() => validateTrainConfig({ ...base, model: { path: 'm', lora: { target_modules: ['lm_head'] } } }), oneLine(/target_modules/));
  assert.throws(() => validateTrainConfig({ ...base, model: { path: 'm', lora: { rank: 8 } } }), oneLine(/rank/));
});
