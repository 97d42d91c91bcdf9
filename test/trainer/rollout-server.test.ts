/**
 * The training loop's rollout-server path, offline against a real server: rollouts come from `grpo serve`
 * over HTTP (token ids via return_tokens_as_token_ids), the trainer recomputes the behaviour log-probs, and
 * after every step the server loads the new weights (POST /update_weights_from_disk, SGLang's API).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { GrpoError } from '../../src/errors.ts';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { openModel } from '../../src/model/open-model.ts';
import { generate } from '../../src/rollout/generate.ts';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { generateRemote } from '../../src/rollout/remote-generate.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from './fixtures.ts';
import { serveModel } from '../serve/fixtures.ts';

test('RL with rollouts from grpo serve raises the reward, and the server ends up serving the trained weights', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-ext-'));
  const modelDir = tinyModelFolder(root);
  const server = await serveModel(modelDir, { allowRuntimeUpdates: true });
  try {
    const cfg = toyConfig(modelDir, root, {
      name: 'ext',
      algorithm: { preset: 'grpo', kl_beta: 0, rollout_correction: 'sequence_mask' },
      optimizer: { lr: 3e-2 },
      rollout: { engine: 'openai', base_url: `${server.url}/v1` },
      training: { steps: 30 },
    });
    const r = await train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true });
    const avg = (ms: typeof r.metrics) => ms.reduce((s, m) => s + (m.reward as number), 0) / ms.length;
    assert.ok(
      avg(r.metrics.slice(-5)) > avg(r.metrics.slice(0, 5)) + 0.2,
      `reward ${avg(r.metrics.slice(0, 5))} → ${avg(r.metrics.slice(-5))}`,
    );

    // the server now samples exactly as the trained policy does
    const { model } = openModel(path.join(root, 'ext', 'final'), { threads: 1 });
    try {
      const client = new OpenAIClient({
        baseUrl: `${server.url}/v1`,
        model: (await new OpenAIClient({ baseUrl: `${server.url}/v1`, model: 'probe' }).listModels())[0],
        memoryCache: false,
      });
      const prompt = [1, 40, 41];
      const remote = await generateRemote(client, [prompt], { n: 2, maxTokens: 6, temperature: 1, seed: 5 });
      const local = generate(model, [prompt], { n: 2, maxTokens: 6, temperature: 1, seed: 5 });
      assert.deepEqual(
        remote.map((c) => c.tokens),
        local.map((c) => c.tokens),
      );
      remote.forEach((c, i) => c.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - local[i].logprobs[t]) < 1e-9)));
    } finally {
      model.free();
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('LoRA with rollouts from grpo serve: each step loads the new adapter (vLLM load_lora_adapter) and the server samples what the trained policy samples', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-ext-lora-'));
  const modelDir = tinyModelFolder(root);
  const server = await serveModel(modelDir, { allowRuntimeUpdates: true });
  try {
    const cfg = toyConfig(modelDir, root, {
      name: 'ext-lora',
      model: { path: modelDir, threads: 1, precision: 'f32', lora: { r: 4 }, base_precision: 'f32' },
      algorithm: { preset: 'grpo', kl_beta: 0.04 },
      optimizer: { lr: 3e-2 },
      rollout: { engine: 'openai', base_url: `${server.url}/v1` },
      training: { steps: 4 },
    });
    const r = await train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true });
    assert.ok(
      r.metrics.some((m) => (m.kl as number) > 0),
      'the KL against the base (adapters off) is measured',
    );
    const names = await new OpenAIClient({ baseUrl: `${server.url}/v1`, model: 'probe' }).listModels();
    assert.equal(names.length, 2, `the base and the latest adapter only (earlier ones unloaded): ${names.join(', ')}`);
    const { model } = openModel(modelDir, {
      threads: 1,
      adapter: path.join(root, 'ext-lora', 'final'),
      basePrecision: 'f32',
      precision: 'f32',
    });
    try {
      const client = new OpenAIClient({ baseUrl: `${server.url}/v1`, model: names[1], memoryCache: false });
      const prompt = [1, 40, 41];
      const remote = await generateRemote(client, [prompt], { n: 2, maxTokens: 6, temperature: 1, seed: 5 });
      const local = generate(model, [prompt], { n: 2, maxTokens: 6, temperature: 1, seed: 5 });
      assert.deepEqual(
        remote.map((c) => c.tokens),
        local.map((c) => c.tokens),
      );
      remote.forEach((c, i) => c.logprobs.forEach((lp, t) => assert.ok(Math.abs(lp - local[i].logprobs[t]) < 1e-9)));
      // and the adapter really changed the policy: the base samples differently
      const base = await generateRemote(
        new OpenAIClient({ baseUrl: `${server.url}/v1`, model: names[0], memoryCache: false }),
        [prompt],
        { n: 2, maxTokens: 6, temperature: 1, seed: 5 },
      );
      assert.notDeepEqual(
        base.map((c) => c.logprobs),
        remote.map((c) => c.logprobs),
      );
    } finally {
      model.free();
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('an engine whose context is shorter than the longest prompt plus rollout.max_tokens is refused before the first step', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-ext-ctx-'));
  const modelDir = tinyModelFolder(root);
  // the same model served with a context of 10 tokens (its config says so)
  const short = path.join(root, 'short');
  cpSync(modelDir, short, { recursive: true });
  const cfgFile = path.join(short, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), max_position_embeddings: 10 }));
  const server = await serveModel(short);
  try {
    const cfg = toyConfig(modelDir, root, {
      name: 'ext-ctx',
      rollout: { engine: 'openai', base_url: `${server.url}/v1` },
      training: { steps: 2 },
    });
    await assert.rejects(
      train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true }),
      (e: unknown) =>
        e instanceof GrpoError &&
        /serves 'short' with a context of 10 tokens, but the longest prompt \(\d+\) and rollout\.max_tokens \(8\) need \d+: .*--max-model-len/.test(
          e.message,
        ),
    );
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a grpo serve started without --allow-runtime-updates refuses the weights, and the run stops before its first step saying how to fix it', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-ext-off-'));
  const modelDir = tinyModelFolder(root);
  const server = await serveModel(modelDir);
  try {
    const cfg = toyConfig(modelDir, root, {
      name: 'ext-off',
      rollout: { engine: 'openai', base_url: `${server.url}/v1` },
      training: { steps: 2 },
    });
    await assert.rejects(
      train(cfg, { rewards: [shareOfA], tasks: toyTasks, quiet: true }),
      (e: unknown) =>
        e instanceof GrpoError &&
        /no rollout server took policy version 0: .*HTTP 403: .*start grpo serve with --allow-runtime-updates/.test(
          e.message,
        ),
    );
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
