// Hermes-format episodes on the embedded model: after each turn the chat template's tool message and the next
// assistant header are inserted as tokens (masked), and every sampled token's log-prob is a teacher-forced one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HfTokenizer } from '../../src/model/tokenizer/hf-tokenizer.ts';
import { byteLevelBpeTokenizerJson } from '../../src/model/tokenizer/byte-level-bpe-json.ts';
import { hermesFormat } from '../../src/rollout/tools/tool-format.ts';
import { embeddedEpisodes } from '../../src/rollout/embedded-episodes.ts';
import type { AgentLoop } from '../../src/rollout/agent-loop.ts';
import { chatMlTemplate, tinyByteLevelVocab } from '../model/tokenizer-fixtures.ts';
import { tinyConfigs, randomizeWeights } from '../model/tiny-configs.ts';
import { LlamaModel } from '../../src/model/llama-model.ts';

const v = tinyByteLevelVocab();
const tokenizer = new HfTokenizer({
  tokenizerJson: byteLevelBpeTokenizerJson(v.vocab, v.merges, {
    pre: 'qwen2',
    addedTokens: Object.entries(v.special).map(([content, id]) => ({ id, content, special: content !== '<think>' })),
  }),
  tokenizerConfig: { eos_token: '<|im_end|>', chat_template: chatMlTemplate },
});

test("hermes episodes insert the chat template's tool turn after each model turn; sampled log-probs are teacher-forced ones", async () => {
  const config = { ...tinyConfigs['llama (GQA, tied)'], vocabSize: v.size, maxSeqLen: 160, eosTokenIds: [] };
  const format = hermesFormat(tokenizer);
  const response = format.render(['4']);
  const inserted = tokenizer.encode(response, { addBos: false });
  const prompt = tokenizer.encode(
    tokenizer.applyChatTemplate([{ role: 'user', content: 'hello' }], { addGenerationPrompt: true }),
    { addBos: false },
  );
  const model = new LlamaModel(config, { threads: 1 });
  let results: Awaited<ReturnType<typeof embeddedEpisodes>>;
  try {
    model.weights.load(randomizeWeights(model.weights.save(), 3));
    const loop: AgentLoop = {
      // a scripted environment: two answers, then the end of the episode
      environment: () => {
        let turns = 0;
        return { step: () => (++turns <= 2 ? { responses: ['4'] } : { done: true }) };
      },
      format,
      maxTurns: 5,
      encode: (t) => tokenizer.encode(t, { addBos: false }),
      decode: (ids) => tokenizer.decode(ids),
    };
    // the random model's turns end at any of many "end-of-turn" ids, so episodes take several turns
    results = await embeddedEpisodes(
      model,
      [prompt],
      { n: 3, maxTokens: 120, temperature: 1, seed: 4, eosTokenIds: Array.from({ length: 60 }, (_, i) => i * 4) },
      loop,
    );
    for (const c of results) {
      const [logp] = model.forward([[...prompt, ...c.tokens]]).logp;
      c.tokens.forEach((_, t) => {
        if (c.sampledMask![t]) assert.ok(Math.abs(c.logprobs[t] - logp[prompt.length - 1 + t]) < 1e-4, `token ${t}`);
      });
    }
  } finally {
    model.free();
  }
  for (const c of results) {
    // runs of inserted tokens are exactly the rendered tool turn
    const runs: number[][] = [];
    c.sampledMask!.forEach((m, t) => {
      if (!m) {
        if (t === 0 || c.sampledMask![t - 1]) runs.push([]);
        runs[runs.length - 1].push(c.tokens[t]);
      }
    });
    assert.ok(runs.length >= 1 && runs.length <= 2, `${runs.length} environment answers`);
    for (const r of runs) assert.deepEqual(r, inserted);
  }
  assert.ok(
    results.some((c) => c.episode!.turns === 3),
    'an episode took both answers and a third turn',
  );
});
