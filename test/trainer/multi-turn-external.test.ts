/**
 * Multi-turn episodes from an external engine, offline against a real `grpo serve`: greedy episodes over HTTP
 * (each turn a continuation of the episode's token ids, the plain format's closing tag kept with vLLM's
 * include_stop_str_in_output) are token for token the embedded engine's, and a training step runs on them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModel } from '../../src/model/open-model.ts';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { remoteEpisodes } from '../../src/rollout/remote-episodes.ts';
import { embeddedEpisodes } from '../../src/rollout/embedded-episodes.ts';
import { agentSetup } from '../../src/trainer/agent-setup.ts';
import { loadTrainConfig } from '../../src/trainer/config/load.ts';
import { train } from '../../src/trainer/trainer.ts';
import { embeddedTaskSplits, embeddedTask } from '../../src/data/synthetic/index.ts';
import { serveModel } from '../serve/fixtures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modelDir = path.join(root, 'models/tools');

test("greedy multi-turn episodes from grpo serve equal the embedded engine's, and RL trains on them", async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-mt-ext-'));
  // the trainer pushes its weights after every step: the server takes runtime updates
  const server = await serveModel(modelDir, { allowRuntimeUpdates: true });
  const { model, tokenizer } = openModel(modelDir, { threads: 1, precision: 'f32' });
  try {
    const prompts = embeddedTask('embedded:multiplication')
      .heldOut(6, 4)
      .map((e) => tokenizer.encode(e.prompt));
    const agent = agentSetup(loadTrainConfig(path.join(root, 'configs/demo-tools.yaml')), tokenizer)!.loopFor([]);
    const client = new OpenAIClient({
      baseUrl: `${server.url}/v1`,
      model: (await new OpenAIClient({ baseUrl: `${server.url}/v1`, model: 'probe' }).listModels())[0],
      memoryCache: false,
    });
    const opts = { n: 2, maxTokens: 30, temperature: 1, seed: 9 };
    const remote = await remoteEpisodes(client, prompts, { ...opts, temperature: 0 }, agent);
    const local = await embeddedEpisodes(
      model,
      prompts,
      { ...opts, temperature: 0, decode: (ids) => tokenizer.decode(ids) },
      agent,
    );
    assert.deepEqual(
      remote.map((c) => c.tokens),
      local.map((c) => c.tokens),
    );
    assert.deepEqual(
      remote.map((c) => c.sampledMask),
      local.map((c) => c.sampledMask),
    );
    // sampled episodes that call the tool come back with the call's closing tag and the inserted response
    const sampled = await remoteEpisodes(client, prompts, { ...opts, n: 8 }, agent);
    const called = sampled.filter((c) => c.episode!.toolCalls > 0);
    assert.ok(called.length > 0, 'some sampled episode called the calculator');
    for (const c of called)
      assert.match(c.text!, /^<calculator>\d+\*\d+<\/calculator><tool_response>\d+<\/tool_response>/);

    const config = loadTrainConfig(path.join(root, 'configs/demo-tools.yaml'), [
      '--out_dir',
      out,
      '--model.path',
      modelDir,
      '--model.threads',
      '1',
      '--training.steps',
      '2',
      '--data.eval_size',
      '8',
      '--rollout.engine',
      'openai',
      '--rollout.base_url',
      `${server.url}/v1`,
      '--rollout.prompts_per_step',
      '4',
    ]);
    const r = await train(config, { tasks: embeddedTaskSplits, quiet: true });
    assert.equal(r.steps, 2);
    assert.ok(r.metrics.every((m) => Number(m['tools/calls_per_episode']) > 0 && Number.isFinite(m.loss as number)));
  } finally {
    model.free();
    await server.close();
    rmSync(out, { recursive: true, force: true });
  }
});
