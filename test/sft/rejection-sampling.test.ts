import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectionSample } from '../../src/sft/rejection-sampling.ts';
import type { RewardSpec } from '../../src/rewards/types.ts';
import { task, tinyModel, tokenizer } from './helpers.ts';

const prompts = task.train(6, 9);
const hasSeven: RewardSpec = { name: 'has_seven', weight: 1, fn: (c) => (c.includes('7') ? 1 : 0) };
const short: RewardSpec = { name: 'short', weight: 0.5, fn: (c) => (c.length <= 12 ? 1 : 0) };

test('rejection sampling keeps exactly the distinct, finished samples whose weighted reward reaches the threshold', async () => {
  const model = tinyModel(4);
  try {
    const opts = { rewards: [hasSeven, short], n: 12, temperature: 1.5, maxTokens: 24, threshold: 1, seed: 3 };
    const r = await rejectionSample(model, tokenizer, prompts, opts);
    assert.equal(r.generated, prompts.length * 12);
    assert.ok(r.accepted.length > 0 && r.accepted.length < r.generated, `kept ${r.accepted.length} of ${r.generated}`);
    const eos = tokenizer.eosIds[0];
    for (const a of r.accepted) {
      const reward = (a.completionText.includes('7') ? 1 : 0) + 0.5 * (a.completionText.length <= 12 ? 1 : 0);
      assert.equal(a.reward, reward);
      assert.ok(reward >= 1, `kept "${a.completionText}" with reward ${reward}`);
      assert.equal(a.completion[a.completion.length - 1], eos, 'a kept sample finished with EOS');
      assert.equal(tokenizer.decode(a.completion), a.completionText);
      assert.deepEqual(a.prompt, tokenizer.encode(prompts[a.index].prompt));
    }
    const keys = r.accepted.map((a) => `${a.index}:${a.completion.join()}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicate completions of one prompt');
    assert.ok(r.passRate * r.generated >= r.accepted.length);
    assert.equal(r.promptsCovered, new Set(r.accepted.map((a) => a.index)).size);
    assert.deepEqual(
      (await rejectionSample(model, tokenizer, prompts, opts)).accepted,
      r.accepted,
      'same seed, same samples',
    );

    const capped = await rejectionSample(model, tokenizer, prompts, { ...opts, maxPerPrompt: 1 });
    assert.ok(capped.accepted.length <= prompts.length);
    assert.deepEqual(
      capped.accepted.map((a) => a.index),
      [...new Set(capped.accepted.map((a) => a.index))],
    );
  } finally {
    model.free();
  }
});

test('duplicates are dropped and counted; truncated samples only when asked; a throwing reward scores 0', async () => {
  const model = tinyModel(5);
  try {
    const always: RewardSpec = { name: 'always', weight: 1, fn: () => 1 };
    // one-token completions: 16 samples over a 21-token vocabulary must repeat
    const r = await rejectionSample(model, tokenizer, prompts.slice(0, 2), {
      rewards: [always],
      n: 16,
      temperature: 3,
      maxTokens: 1,
      threshold: 1,
      keepTruncated: true,
    });
    assert.ok(r.duplicates > 0);
    assert.equal(r.accepted.length + r.duplicates, r.generated);
    const finished = await rejectionSample(model, tokenizer, prompts.slice(0, 2), {
      rewards: [always],
      n: 16,
      temperature: 3,
      maxTokens: 1,
      threshold: 1,
    });
    assert.ok(finished.accepted.every((a) => a.completion.length === 1 && a.completion[0] === tokenizer.eosIds[0]));
    assert.ok(finished.truncated > 0 && finished.accepted.length <= 2);

    const broken: RewardSpec = {
      name: 'broken',
      weight: 1,
      fn: () => {
        throw new Error('judge offline');
      },
    };
    const none = await rejectionSample(model, tokenizer, prompts.slice(0, 2), {
      rewards: [broken],
      n: 4,
      temperature: 1,
      maxTokens: 8,
      threshold: 0.5,
    });
    assert.equal(none.accepted.length, 0);
    assert.equal(none.rewardFailures.broken, 8);
    await assert.rejects(
      rejectionSample(model, tokenizer, prompts, { rewards: [], n: 2, temperature: 1, maxTokens: 4, threshold: 1 }),
      /at least one reward/,
    );
  } finally {
    model.free();
  }
});
