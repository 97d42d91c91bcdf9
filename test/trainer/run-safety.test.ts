/**
 * Runs lose no work and say what happened: a run folder is never silently overwritten, a stop request (SIGINT /
 * SIGTERM in the CLI) ends with a checkpoint, checkpoints are also written by time, damaged checkpoints fail with
 * one line naming the file, useless settings are refused, and the metrics report the KL penalised in the reward
 * and GFPO's filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { resolveAlgorithm } from '../../src/trainer/config/presets.ts';
import { promptBudget } from '../../src/trainer/prompts.ts';
import { klEstimate } from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';

const modelDir = tinyModelFolder();
const out = mkdtempSync(path.join(tmpdir(), 'grpo-safety-'));
test.after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(path.dirname(modelDir), { recursive: true, force: true });
});

const quick = (name: string, over: Record<string, unknown> = {}) =>
  toyConfig(modelDir, out, { name, training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0 }, ...over });
const run = (cfg: ReturnType<typeof toyConfig>, opts: Parameters<typeof train>[1] = {}) =>
  train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true, ...opts });
const rejects = async (p: Promise<unknown>, pattern: RegExp) => {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof GrpoError && pattern.test(e.message) && !e.message.includes('\n    at '),
  );
};

test('a run folder holding a run is refused; --overwrite starts afresh (the old checkpoint is gone); --resume continues it', async () => {
  const first = await run(quick('taken'));
  await rejects(
    run(quick('taken')),
    /already holds a run \(metrics\.jsonl.*--resume .*checkpoint.*--overwrite.*--name/,
  );
  assert.equal(
    readFileSync(path.join(first.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length,
    3,
    'the refused run changed nothing',
  );
  const resumed = await run(
    quick('taken', { training: { steps: 4, micro_batch_groups: 2, log_completions_every: 0 } }),
    { resume: path.join(first.runDir, 'checkpoint') },
  );
  assert.equal(resumed.steps, 4);
  const again = await run(
    { ...quick('taken', { training: { steps: 1, micro_batch_groups: 2, log_completions_every: 0 } }), overwrite: true },
    { stopAfter: 1 },
  );
  assert.equal(again.steps, 1);
  assert.equal(readFileSync(path.join(again.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1);
  assert.equal(JSON.parse(readFileSync(path.join(again.runDir, 'checkpoint', 'state.json'), 'utf8')).step, 1);
});

test('a stop request ends the run after the current step with a checkpoint, and --resume continues from it', async () => {
  const stop = new AbortController();
  const r = await run(quick('stopped', { training: { steps: 6, micro_batch_groups: 2, log_completions_every: 0 } }), {
    signal: stop.signal,
    onStep: (m) => {
      if (m.step === 2) stop.abort();
    },
  });
  assert.equal(r.interrupted, true);
  assert.equal(r.steps, 2);
  assert.ok(!existsSync(path.join(r.runDir, 'final')), 'an interrupted run has no final model');
  assert.equal(JSON.parse(readFileSync(path.join(r.runDir, 'checkpoint', 'state.json'), 'utf8')).step, 2);
  const resumed = await run(
    quick('stopped', { training: { steps: 6, micro_batch_groups: 2, log_completions_every: 0 } }),
    { resume: path.join(r.runDir, 'checkpoint') },
  );
  assert.equal(resumed.interrupted, false);
  assert.equal(resumed.steps, 6);
});

test('training.save_minutes writes checkpoints by time when save_every is 0 (the default bounds a crash to 10 minutes)', async () => {
  assert.equal(quick('x').training.save_minutes, 10);
  assert.equal(quick('x').training.save_every, 0);
  const seen: (number | null)[] = [];
  const stateAt = (dir: string) =>
    existsSync(path.join(dir, 'checkpoint', 'state.json'))
      ? JSON.parse(readFileSync(path.join(dir, 'checkpoint', 'state.json'), 'utf8')).step
      : null;
  const timed = quick('timed', {
    training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0, save_minutes: 1e-9 },
  });
  await run(timed, {
    beforeUpdate: (step) => {
      seen.push(stateAt(path.join(out, 'timed')));
      void step;
    },
  });
  assert.deepEqual(seen, [null, 1, 2], 'a checkpoint after every step once the interval has passed');
  const never: (number | null)[] = [];
  await run(
    quick('untimed', { training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0, save_minutes: 0 } }),
    {
      beforeUpdate: () => {
        never.push(stateAt(path.join(out, 'untimed')));
      },
    },
  );
  assert.deepEqual(never, [null, null, null]);
});

test('a damaged checkpoint fails with one line naming the file and the fix', async () => {
  const r = await run(quick('damaged', { training: { steps: 2, micro_batch_groups: 2, log_completions_every: 0 } }));
  const ck = path.join(r.runDir, 'checkpoint');
  const state = path.join(ck, 'state.json');
  const good = readFileSync(state, 'utf8');
  const resume = () =>
    run(quick('damaged', { training: { steps: 3, micro_batch_groups: 2, log_completions_every: 0 } }), { resume: ck });
  writeFileSync(state, good.slice(0, good.length >> 1));
  await rejects(resume(), /state\.json is not readable JSON.*--overwrite/);
  writeFileSync(state, JSON.stringify({ ...JSON.parse(good), step: 'abc' }));
  await rejects(resume(), /state\.json: 'step' .*edited or damaged/);
  writeFileSync(state, good);
  unlinkSync(path.join(ck, 'optimizer.safetensors'));
  await rejects(resume(), /has no optimizer\.safetensors \(the AdamW moments\)/);
});

test('group_size 1 is refused where advantages are relative to the group, and allowed where the baseline is not', () => {
  const at =
    (preset: string, groupSize: number, extra = {}) =>
    () =>
      resolveAlgorithm({ preset, ...extra } as never, { groupSize, maxTokens: 16 });
  for (const preset of ['grpo', 'dr_grpo', 'rloo', 'gdpo', 'disco', 'gvpo'])
    assert.throws(
      at(preset, 1),
      (e: unknown) => e instanceof GrpoError && /group_size 1 .*every advantage would be 0/.test(e.message),
      preset,
    );
  assert.throws(at('grpo', 8, { gfpo_keep: 1 }), /gfpo_keep 1/);
  for (const preset of ['reinforce_pp', 'ppo']) assert.doesNotThrow(at(preset, 1), preset);
  assert.doesNotThrow(at('grpo', 2));
});

test('with the KL penalty in the reward (rloo), the logged kl is the mean per-token KL of the sampled tokens to the reference', async () => {
  const expected: number[] = [];
  const r = await run(quick('rloo-kl', { algorithm: { preset: 'rloo', kl_beta: 0.05 }, optimizer: { lr: 3e-2 } }), {
    beforeUpdate: (_step, seqs) => {
      let s = 0,
        n = 0;
      for (const q of seqs)
        q.oldLogp.forEach((lp, t) => {
          s += klEstimate('k1', lp, q.refLogp![t]);
          n++;
        });
      expected.push(s / n);
    },
  });
  r.metrics.forEach((m, i) =>
    assert.ok(Math.abs((m.kl as number) - expected[i]) < 1e-9, `step ${i + 1}: kl ${m.kl} vs ${expected[i]}`),
  );
  assert.ok(
    r.metrics.slice(1).some((m) => Math.abs(m.kl as number) > 1e-6),
    'the policy moved away from the reference',
  );
});

test('GFPO: reward, length and frac_reward_zero_std describe the kept completions; gfpo/sampled_* the sampled ones', async () => {
  const kept: number[][] = [];
  const r = await run(
    quick('gfpo', {
      algorithm: { preset: 'grpo', gfpo_keep: 2 },
      rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 8, temperature: 1 },
    }),
    {
      beforeUpdate: (_s, seqs) => {
        kept.push(seqs.map((q) => q.reward));
      },
    },
  );
  r.metrics.forEach((m, i) => {
    assert.equal(kept[i].length, 8, '2 of 4 kept for 4 prompts');
    assert.ok(Math.abs((m.reward as number) - kept[i].reduce((a, b) => a + b, 0) / 8) < 1e-12);
    for (const k of ['gfpo/sampled_reward', 'gfpo/sampled_completion_length', 'gfpo/sampled_frac_reward_zero_std'])
      assert.equal(typeof m[k], 'number', k);
    const groups = [0, 1, 2, 3].map((g) => kept[i].slice(2 * g, 2 * g + 2));
    assert.equal(m.frac_reward_zero_std, groups.filter((g) => g[0] === g[1]).length / 4);
  });
});

test('prompts must leave room for the completion in the model context', async () => {
  const cfg = quick('ctx', { rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 64, temperature: 1 } });
  assert.throws(() => promptBudget(cfg, 64), /max_tokens 64 leaves no room for a prompt in the model's context of 64/);
  assert.equal(promptBudget(cfg, 100), 36);
  assert.equal(promptBudget(quick('ctx'), 4096), 512, 'data.max_prompt_tokens when the context is roomy');
  // the tiny model's context is 64: every toy prompt (BOS and text) is longer than 64 − 63 = 1 token
  await rejects(
    run(quick('ctx2', { rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 63, temperature: 1 } })),
    /no training prompt .* fits 1 tokens/,
  );
});
