/**
 * Every built-in preset runs through train(), and the mechanism that defines it acts: DAPO's clip-higher clips and
 * its dynamic sampling filters on correctness, GSPO's sequence clip clips, DisCO's trust region sees a KL, GVPO's
 * implicit reward moves, GFPO trains on fewer and shorter completions, GDPO normalises each reward on its own,
 * REINFORCE++ whitens its token returns. Several updates per rollout batch are what make the ratio leave 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train, type TrainOptions } from '../../src/trainer/trainer.ts';
import { gdpoAdvantages, groupAdvantages } from '../../src/algorithms/index.ts';
import type { RewardSpec } from '../../src/rewards/index.ts';
import { methodPresets } from '../../src/trainer/config/presets.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';

const modelDir = tinyModelFolder();
const out = mkdtempSync(path.join(tmpdir(), 'grpo-presets-'));
test.after(() => {
  for (const d of [out, path.dirname(modelDir)]) rmSync(d, { recursive: true, force: true });
});

/** A correctness reward (1 when at least 15% of the characters are 'a') beside a graded one (the share itself). */
const correct: RewardSpec = {
  name: 'correct',
  weight: 1,
  fn: (c) => (c.length && [...c].filter((x) => x === 'a').length / c.length >= 0.15 ? 1 : 0),
};
const rewards = [correct, { ...shareOfA, weight: 0.5 }];

async function run(
  preset: string,
  extra: { algorithm?: Record<string, unknown>; opts?: TrainOptions; steps?: number } = {},
) {
  const cfg = toyConfig(modelDir, out, {
    name: preset,
    overwrite: true,
    algorithm: { preset, ...extra.algorithm },
    optimizer: { lr: 3e-2 },
    training: { steps: extra.steps ?? 4, micro_batch_groups: 2, log_completions_every: 0 },
  });
  const r = await train(cfg, { rewards, correctness: 'correct', tasks: toyTasks, quiet: true, ...extra.opts });
  assert.equal(r.steps, extra.steps ?? 4);
  for (const m of r.metrics)
    assert.ok(Number.isFinite(m.loss as number) || m.loss === null, `${preset}: loss ${m.loss}`);
  return r.metrics;
}
const max = (ms: Record<string, unknown>[], key: string) =>
  Math.max(...ms.map((m) => (m[key] as number | null) ?? -Infinity));

test('dapo: several updates per rollout batch, so clip-higher clips; groups are dropped on correctness, not on the summed reward', async () => {
  const ms = await run('dapo');
  assert.ok((ms[0].optimizer_step as number) >= 2, `updates in step 1: ${ms[0].optimizer_step}`);
  assert.ok(max(ms, 'clip_ratio') > 0, 'the ratio leaves [0.8, 1.28] on a later mini-batch');
  assert.ok(max(ms, 'dropped_groups') > 0);
  // without the overlong penalty a reward ≥ 1 means a right answer (the share adds at most 0.5)
  const allWrongKept = async (metric: string) => {
    let n = 0,
      groups = 0;
    await run('dapo', {
      steps: 3,
      algorithm: { soft_overlong_cache: 0, dynamic_sampling_metric: metric },
      opts: {
        beforeUpdate: (_s, seqs) => {
          for (const g of new Set(seqs.map((s) => s.group))) {
            groups++;
            if (!seqs.some((s) => s.group === g && s.reward >= 1)) n++;
          }
        },
      },
    });
    assert.ok(groups > 0);
    return n;
  };
  assert.equal(
    await allWrongKept('accuracy'),
    0,
    'DAPO Eq. 11: a group whose answers are all wrong is dropped, whatever its format or length rewards',
  );
  assert.ok(
    (await allWrongKept('reward')) > 0,
    'filtering on the summed reward keeps all-wrong groups whose shares differ',
  );
});

for (const preset of ['gspo', 'gspo_token']) {
  test(`${preset}: the sequence ratio leaves 1 ± 3e-4 after the first of its 4 updates, so it clips`, async () => {
    const ms = await run(preset);
    assert.equal(ms[0].optimizer_step, 4);
    assert.ok(max(ms, 'clip_ratio') > 0);
  });
}

test('disco: the KL of its trust region is nonzero from the second update of a rollout batch', async () => {
  const ms = await run('disco');
  assert.ok(max(ms, 'policy/kl') > 0, `policy/kl ${ms.map((m) => m['policy/kl'])}`);
  assert.ok(max(ms, 'policy/valid_groups') > 0, 'some questions have right and wrong answers');
});

test('disco: right and wrong come from the correctness reward, so a penalty that sinks every sum below 0.5 still leaves contrast', async () => {
  // every completion pays 0.6: a right answer sums to 0.4, under the 0.5 a summed-reward split would need
  const penalised: RewardSpec[] = [correct, { name: 'penalty', weight: 1, fn: () => -0.6 }];
  let mismatch = 0;
  const ms = await run('disco', {
    opts: {
      rewards: penalised,
      beforeUpdate: (_s, seqs) => {
        for (const s of seqs) if (s.correct !== s.reward > 0) mismatch++;
      },
    },
  });
  assert.equal(mismatch, 0, 'each sequence carries its correctness (reward 0.4 right, −0.6 wrong)');
  assert.ok(max(ms, 'policy/valid_groups') > 0, `valid groups ${ms.map((m) => m['policy/valid_groups'])}`);
  const bySum = await run('disco', { algorithm: { disco_metric: 'reward' }, opts: { rewards: penalised } });
  assert.equal(max(bySum, 'policy/valid_groups'), 0, 'no sum is above 0.5: no group has a right answer');
  // without a reward deciding correctness the run refuses to start, naming the way out
  await assert.rejects(
    run('disco', { opts: { correctness: undefined, rewards: [{ ...shareOfA, weight: 1 }] } }),
    (e: unknown) =>
      e instanceof GrpoError &&
      /policy loss 'disco' splits answers by correctness.*disco_metric: reward/.test(e.message),
  );
});

test('gvpo: the implicit reward β·Σ(lp − old) moves once the policy has been updated within a rollout batch', async () => {
  const ms = await run('gvpo');
  assert.ok(max(ms, 'policy/implicit_reward') > 0);
});

test('gfpo: trains on the shortest half of each group', async () => {
  const sizes: number[] = [];
  const ms = await run('gfpo', {
    opts: {
      beforeUpdate: (_s, seqs) => {
        sizes.push(seqs.length);
      },
    },
  });
  assert.deepEqual(sizes, [8, 8, 8, 8], '4 prompts × 2 kept of 4');
  for (const m of ms) assert.ok((m.completion_length as number) <= (m['gfpo/sampled_completion_length'] as number));
});

test('gdpo: each reward is normalised in its group before the sum (advantages differ from GRPO on the summed reward)', async () => {
  let differs = false;
  await run('gdpo', {
    opts: {
      beforeUpdate: (_s, seqs) => {
        const grpo = groupAdvantages(
          seqs.map((s) => s.reward),
          4,
        );
        if (seqs.some((s, i) => Math.abs(s.advantages[0] - grpo[i]) > 1e-3)) differs = true;
      },
    },
  });
  assert.ok(differs);
});

test('gdpo: each reward weighs what the run gives it, also when the rewards come from train(cfg, { rewards })', async () => {
  // the share of 'a' weighted 0: the advantages are GDPO's on correctness alone (weighted 1, as the old lookup in
  // the config's reward list made it, the share's group-normalised values would move them)
  let checked = 0;
  await run('gdpo', {
    opts: {
      rewards: [correct, { ...shareOfA, weight: 0 }],
      beforeUpdate: (_s, seqs) => {
        const expected = gdpoAdvantages([seqs.map((s) => (s.correct ? 1 : 0))], 4);
        seqs.forEach((s, i) =>
          assert.ok(
            Math.abs(s.advantages[0] - expected[i]) < 1e-9,
            `sequence ${i}: ${s.advantages[0]} against ${expected[i]}`,
          ),
        );
        checked++;
      },
    },
  });
  assert.equal(checked, 4);
});

test('reinforce_pp: token returns whitened over the batch, KL in the reward', async () => {
  const means: number[] = [];
  const ms = await run('reinforce_pp', {
    opts: {
      beforeUpdate: (_s, seqs) => {
        const all = seqs.flatMap((s) => s.advantages);
        means.push(all.reduce((a, b) => a + b, 0) / all.length);
      },
    },
  });
  for (const m of means) assert.ok(Math.abs(m) < 1e-6, `whitened: mean ${m}`);
  assert.ok(max(ms, 'kl') > 0, 'the KL folded into the reward is logged');
});

test("ppo: the critic takes ORZ's 12 steps per rollout batch at its own lr (5e-6), the policy one at optimizer.lr; its metrics are documented", async () => {
  const ms = await run('ppo', { steps: 2 });
  assert.deepEqual(
    ms.map((m) => [m.optimizer_step, m['critic/optimizer_step']]),
    [
      [1, 12],
      [2, 24],
    ],
    '16 sequences: 12 critic mini-batches of 1',
  );
  for (const m of ms) {
    assert.equal(m['critic/lr'], 5e-6);
    assert.equal(m.learning_rate, 3e-2);
    assert.ok(Number.isFinite(m['critic/value_loss']) && Number.isFinite(m['critic/grad_norm']), JSON.stringify(m));
  }
  const doc = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/metrics.md'), 'utf8');
  for (const key of Object.keys(ms[0]).filter((k) => k.startsWith('critic/')))
    assert.ok(doc.includes(`| \`${key}\` |`), `docs/metrics.md documents ${key}`);
});

test('ppo: a completion cut at max_tokens scores 0, right or not (ORZ custom_reward_fn); require_stop: false keeps its reward', async () => {
  const truncatedRewards = async (requireStop?: boolean) => {
    const seen: number[] = [];
    let stopped = 0;
    await run('ppo', {
      steps: 2,
      algorithm: requireStop === undefined ? {} : { require_stop: requireStop },
      opts: {
        beforeUpdate: (_s, seqs) => {
          for (const s of seqs)
            if (s.truncated) seen.push(s.reward);
            else stopped++;
        },
      },
    });
    assert.ok(seen.length > 0, 'max_tokens 8 cuts some completions');
    return { seen, stopped };
  };
  const orz = await truncatedRewards();
  assert.ok(
    orz.seen.every((r) => r === 0),
    `truncated rewards ${orz.seen}`,
  );
  const kept = await truncatedRewards(false);
  assert.ok(
    kept.seen.some((r) => r > 0),
    'the share of a is rewarded on a cut completion without require_stop',
  );
});

test('every registered preset has a run above or in train-e2e.test.ts', () => {
  const covered = [
    'dapo',
    'gspo',
    'gspo_token',
    'disco',
    'gvpo',
    'gfpo',
    'gdpo',
    'reinforce_pp',
    'grpo',
    'ppo',
    'rloo',
    'dr_grpo',
  ];
  assert.deepEqual(
    methodPresets.names().filter((n) => !covered.includes(n)),
    [],
  );
});
