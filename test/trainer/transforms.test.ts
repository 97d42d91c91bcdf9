/**
 * Batch transforms are registered objects, as methods are: a user's own, registered from TypeScript, is named in
 * `algorithm.transforms` with its options beside the other knobs, and acts in a run; names and keys are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { train } from '../../src/trainer/trainer.ts';
import { registerBatchTransform, batchTransforms } from '../../src/trainer/transforms/index.ts';
import { resolveAlgorithm } from '../../src/trainer/config/presets.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';

// a completion longer than `short_max` tokens is rewarded −1 (a user's length rule), the others keep theirs
registerBatchTransform({
  name: 'short_only',
  description: 'completions longer than short_max tokens are rewarded −1',
  options: z.object({ short_max: z.number().int().positive().default(4).describe('tokens a completion may have') }),
  shape: (r, o) => (r.completionIds.length > o.short_max ? { ...r, reward: -1 } : r),
});

const base = {
  name: 't',
  out_dir: '/tmp',
  model: { path: 'unused' },
  data: { train: 'embedded:toy' },
  rollout: { group_size: 4, max_tokens: 8 },
};
const resolve = (algorithm: Record<string, unknown>) =>
  resolveAlgorithm(validateTrainConfig({ ...base, algorithm }).algorithm, { groupSize: 4, maxTokens: 8 });

test('a registered transform named in algorithm.transforms acts in a run, with its option from the config', async () => {
  const modelDir = tinyModelFolder();
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-transforms-'));
  try {
    const cfg = toyConfig(modelDir, out, {
      algorithm: { preset: 'grpo', kl_beta: 0, transforms: ['short_only'], short_max: 3 },
      training: { steps: 2, micro_batch_groups: 2, log_completions_every: 0 },
    });
    let long = 0,
      _short = 0;
    await train(cfg, {
      rewards: [shareOfA],
      tasks: toyTasks,
      quiet: true,
      beforeUpdate: (_s, seqs) => {
        for (const s of seqs) {
          const length = s.tokens.length - s.promptLength;
          if (length > 3) {
            long++;
            assert.equal(s.reward, -1);
          } else {
            _short++;
            assert.ok(s.reward >= 0 && s.reward <= 1);
          }
        }
      },
    });
    assert.ok(long > 0, 'the toy model writes completions longer than 3 tokens');
  } finally {
    for (const d of [out, path.dirname(modelDir)]) rmSync(d, { recursive: true, force: true });
  }
});

test('its options alone do not turn on a transform without a knob of its own; naming it does', () => {
  assert.deepEqual(
    resolve({ short_max: 3 }).batch_transforms.map((t) => t.transform.name),
    [],
  );
  const a = resolve({ transforms: ['short_only'], short_max: 3, hicra_alpha: 0.1 });
  // in registration order: the built-ins first
  assert.deepEqual(
    a.batch_transforms.map((t) => [t.transform.name, t.options]),
    [
      ['hicra', { hicra_alpha: 0.1, hicra_grams: a.transform_options.hicra_grams }],
      ['short_only', { short_max: 3 }],
    ],
  );
});

test('an unknown transform name, a misspelt option or a bad value is one config error naming it', () => {
  assert.throws(
    () => resolve({ transforms: ['short_onl'] }),
    (e: unknown) => e instanceof GrpoError && /short_onl/.test(e.message) && /short_only/.test(e.message),
  );
  assert.throws(
    () => resolve({ short_maks: 3 }),
    (e: unknown) => e instanceof GrpoError && /short_maks/.test(e.message) && /short_max/.test(e.message),
  );
  assert.throws(
    () => resolve({ short_max: -2 }),
    (e: unknown) => e instanceof GrpoError && /short_max/.test(e.message),
  );
});

test("a transform cannot take another transform's option key or a shared knob", () => {
  const schema = (key: string) => z.object({ [key]: z.number().default(1) });
  assert.throws(
    () => registerBatchTransform({ name: 'clash_a', description: 'x', options: schema('gfpo_keep') }),
    /already an option of 'gfpo'/,
  );
  assert.throws(
    () => registerBatchTransform({ name: 'clash_b', description: 'x', options: schema('kl_beta') }),
    /shared algorithm knob/,
  );
  assert.ok(!batchTransforms.has('clash_a') && !batchTransforms.has('clash_b'));
});
