// Every method trains on multi-turn episodes: one step of each preset on the tool demo model, with the calculator
// in the loop. The sequences the update sees hold the inserted tool responses as masked context with no advantage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { methodPresets } from '../../src/trainer/config/presets.ts';
import { train } from '../../src/trainer/trainer.ts';
import { embeddedTaskSplits } from '../../src/data/synthetic/index.ts';
import type { UpdateSequence } from '../../src/trainer/update-sequence.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const config = (out: string, preset: string) =>
  validateTrainConfig({
    name: preset,
    out_dir: out,
    seed: 3,
    model: { path: path.join(root, 'models/tools'), threads: 1 },
    data: { train: 'embedded:multiplication', eval: 'embedded:multiplication', eval_size: 4 },
    rollout: { prompts_per_step: 2, group_size: 8, max_tokens: 30 },
    environment: { tools: ['calculator'], format: 'plain', max_turns: 2 },
    rewards: [{ type: 'math' }],
    // GFPO keeps the most reward per token (its default, the shortest, would keep the episodes that skip the tool)
    algorithm: { preset, ...(preset === 'gfpo' ? { gfpo_keep: 4, gfpo_metric: 'reward_per_token' } : {}) },
    optimizer: { lr: 1e-4 },
    training: { steps: 1, micro_batch_groups: 2, save_minutes: 0, log_completions_every: 0 },
  });

test('every method takes a finite step on multi-turn episodes, with inserted tokens masked out', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-mt-'));
  try {
    for (const preset of methodPresets.names()) {
      let seen: UpdateSequence[] = [];
      const r = await train(config(out, preset), {
        tasks: embeddedTaskSplits,
        quiet: true,
        beforeUpdate: (_s, seqs) => {
          seen = seqs;
        },
      });
      const m = r.metrics[0];
      if (seen.length === 0) {
        assert.equal(preset, 'dapo', 'only dynamic sampling may drop every group of a step');
        continue;
      }
      assert.ok(Number(m['tools/calls_per_episode']) > 0, `${preset}: the model called the tool`);
      assert.ok(Number.isFinite(m.loss as number), `${preset}: loss ${m.loss}`);
      const episodes = seen.filter((s) => s.sampledMask?.includes(0));
      assert.ok(episodes.length > 0, `${preset}: some episode got a tool response`);
      for (const s of episodes) {
        assert.equal(s.sampledMask!.length, s.tokens.length - s.promptLength);
        s.sampledMask!.forEach((x, t) => {
          if (!x) assert.ok(s.advantages[t] === 0, `${preset}: inserted token ${t} has advantage ${s.advantages[t]}`);
        });
      }
      assert.ok(r.toolCallsBefore !== null && r.toolCallsAfter !== null);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("a user environment gets each episode's example, answers turns with per-turn rewards, and is closed", async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-mt-env-'));
  try {
    const made: string[] = [];
    let closed = 0;
    let seen: UpdateSequence[] = [];
    const c = config(out, 'ppo');
    c.environment = { ...c.environment!, tools: [] };
    const r = await train(c, {
      tasks: embeddedTaskSplits,
      quiet: true,
      beforeUpdate: (_s, seqs) => {
        seen = seqs;
      },
      // every first turn is answered with the product itself and a per-turn reward of 0.25; the second ends the episode
      environment: (example) => {
        made.push(example.answer!);
        let turns = 0;
        return {
          step: () => (++turns === 1 ? { responses: [example.answer!], reward: 0.25 } : { done: true }),
          close: () => {
            closed++;
          },
        };
      },
    });
    // 4 held-out episodes before, 2 prompts × 8 training ones, 4 after
    assert.equal(made.length, 4 + 2 * 8 + 4);
    assert.equal(closed, made.length);
    assert.ok(made.every((a) => /^\d+$/.test(a)));
    assert.ok(Number.isFinite(r.metrics[0].loss as number));
    // an episode whose first turn ran out of tokens never reached the environment (no turn reward), and one whose
    // answer did not fit the budget got the turn reward but no answer
    const answered = seen.filter((s) => s.sampledMask!.includes(0));
    assert.ok(
      answered.length > seen.length / 2,
      `${answered.length} of ${seen.length} episodes got the environment's answer`,
    );
    for (const s of seen) assert.ok([0, 1, 0.25, 1.25].includes(s.reward), `episode reward ${s.reward}`);
    for (const s of answered)
      assert.ok(
        [0.25, 1.25].includes(s.reward),
        `answered episode reward ${s.reward}: the outcome (0 or 1) plus the turn's 0.25`,
      );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a resumed multi-turn run reports the tool calls measured before its first step', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-mt-resume-'));
  try {
    const c = config(out, 'grpo');
    c.training.steps = 2;
    const first = await train(c, { tasks: embeddedTaskSplits, quiet: true, stopAfter: 1 });
    assert.equal(first.steps, 1);
    assert.ok(first.toolCallsBefore !== null);
    const resumed = await train(c, {
      tasks: embeddedTaskSplits,
      quiet: true,
      resume: path.join(first.runDir, 'checkpoint'),
    });
    assert.equal(resumed.steps, 2);
    assert.equal(resumed.toolCallsBefore, first.toolCallsBefore);
    assert.ok(resumed.toolCallsAfter !== null);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
