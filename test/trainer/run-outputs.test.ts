/**
 * What a run leaves for people and tools to read: config.yaml (a valid --config), metrics lines with a wall time
 * and only documented fields, completions marked correct or not, and — with report_to: tensorboard — an event
 * file holding one event per metrics line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../../src/trainer/trainer.ts';
import { loadTrainConfig } from '../../src/trainer/config/load.ts';
import { encodeEvent, tfRecord } from '../../src/trainer/tensorboard.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modelDir = tinyModelFolder();
const out = mkdtempSync(path.join(tmpdir(), 'grpo-outputs-'));
test.after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(path.dirname(modelDir), { recursive: true, force: true });
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('a run writes config.yaml, timestamped and documented metrics, marked completions and TensorBoard events', async () => {
  const config = toyConfig(modelDir, out, {
    name: 'outs',
    training: { steps: 3, micro_batch_groups: 2, log_completions_every: 1, report_to: 'tensorboard' },
  });
  const started = Date.now() / 1000;
  const r = await train(config, { rewards: [shareOfA], correctness: 'share_a', tasks: toyTasks, quiet: true });
  const ended = Date.now() / 1000;

  assert.deepEqual(
    loadTrainConfig(path.join(r.runDir, 'config.yaml')),
    config,
    "config.yaml reads back as the run's config",
  );

  const metrics = lines(path.join(r.runDir, 'metrics.jsonl'));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2, 3],
  );
  const times = metrics.map((m) => m.wall_time as number);
  assert.ok(
    times.every((t, i) => t >= started && t <= ended && (i === 0 || t >= times[i - 1])),
    `wall times ${times}`,
  );
  const doc = readFileSync(path.join(root, 'docs/metrics.md'), 'utf8');
  for (const key of Object.keys(metrics[0])) {
    assert.ok(
      doc.includes(`| \`${key.replace(/^rewards\/[^/]+\//, 'rewards/<name>/')}\` |`),
      `docs/metrics.md documents ${key}`,
    );
  }

  const groups = lines(path.join(r.runDir, 'completions.jsonl')).filter((c) => c.completions) as {
    completions: { rewards: Record<string, number>; correct: boolean }[];
  }[];
  assert.equal(groups.length, 3);
  for (const c of groups.flatMap((g) => g.completions)) assert.equal(c.correct, c.rewards.share_a >= 1 - 1e-9);

  const events = readdirSync(r.runDir).filter((f) => f.startsWith('events.out.tfevents.'));
  assert.equal(events.length, 1);
  const bytes = readFileSync(path.join(r.runDir, events[0]));
  const version = tfRecord(encodeEvent({ wallTime: 0, step: 0, fileVersion: 'brain.Event:2' }));
  // the version event's wall time is the writer's start, so compare the rest of it and then every step's event exactly
  const first = version.length;
  assert.deepEqual(bytes.subarray(12 + 9, first - 4), version.subarray(12 + 9, first - 4));
  const steps = Buffer.concat(
    metrics.map((m) =>
      tfRecord(
        encodeEvent({
          wallTime: m.wall_time as number,
          step: m.step as number,
          scalars: Object.entries(m).filter(
            (e): e is [string, number] =>
              typeof e[1] === 'number' && Number.isFinite(e[1]) && e[0] !== 'step' && e[0] !== 'wall_time',
          ),
        }),
      ),
    ),
  );
  assert.deepEqual(bytes.subarray(first), steps);

  assert.ok(
    metrics.every((m) => typeof m.kl === 'number'),
    'GRPO measures the KL it penalises',
  );

  // starting afresh there removes the old event file with the rest of the run; a method without KL logs none (TRL: kl only when β ≠ 0)
  const again = await train(
    {
      ...config,
      overwrite: true,
      algorithm: { preset: 'dr_grpo' },
      training: { ...config.training, steps: 1, report_to: 'none' },
    },
    { rewards: [shareOfA], tasks: toyTasks, quiet: true },
  );
  assert.deepEqual(
    readdirSync(r.runDir).filter((f) => f.startsWith('events.out.tfevents.')),
    [],
  );
  assert.equal(again.metrics[0].kl, null);
});
