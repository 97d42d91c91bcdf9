// Continuous batching: requests that join a running batch at any step, with their own sampling settings, decode
// exactly what they decode alone; the cache grows for them and frees slots as sequences end or are cancelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlamaModel } from '../../src/model/llama-model.ts';
import { SequenceDecoder } from '../../src/rollout/sequence-decoder.ts';
import type { SequenceRequest } from '../../src/rollout/decode-request.ts';
import { generate } from '../../src/rollout/generate.ts';
import { tinyConfigs, withRandomModel } from '../model/tiny-configs.ts';

// a context past 64 positions: caches (whole blocks of 64 positions) grow, and spans change, as sequences lengthen
const config = { ...tinyConfigs['qwen3 (q/k norm, GQA 4:1)'], eosTokenIds: [], maxSeqLen: 160 };

const withModel = (fn: (m: LlamaModel) => void) => withRandomModel(config, 8, fn);

const requests: { prompts: number[][]; r: SequenceRequest; joinAt: number }[] = [
  { prompts: [[1, 5, 9]], r: { temperature: 0, maxTokens: 20 }, joinAt: 0 },
  { prompts: [[1, 30, 4, 4, 12, 7, 3, 3, 8]], r: { temperature: 1, n: 3, maxTokens: 9, seed: 4 }, joinAt: 3 },
  { prompts: [[2], [1, 2, 3, 4]], r: { temperature: 0.7, topK: 5, maxTokens: 30, seed: 9 }, joinAt: 3 },
  // joins after the first two ended: more positions than the cache was made for, which grows (as it did for
  // the second request's slots) with the third request's sequences copied over mid-generation
  {
    prompts: [[6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]],
    r: { temperature: 1.3, topP: 0.8, maxTokens: 60, seed: 1 },
    joinAt: 21,
  },
];

test('requests joining a running batch at any step, each with its own settings, decode exactly what they decode alone', () => {
  withModel((model) => {
    const decoder = new SequenceDecoder(model);
    try {
      const running = new Map<number, ReturnType<SequenceDecoder['add']>>();
      for (let step = 0; step < 200 && (running.size < requests.length || !decoder.idle); step++) {
        requests.forEach((q, i) => {
          if (q.joinAt === step) running.set(i, decoder.add(q.prompts, q.r));
        });
        decoder.step();
        if (step === 3) assert.equal(decoder.sequences, 1 + 3 + 2, 'three requests decode together');
      }
      assert.ok(decoder.idle);
      requests.forEach((q, i) => {
        const together = running.get(i)!;
        assert.ok(together.finished);
        const alone = generate(model, q.prompts, q.r);
        assert.deepEqual(
          together.completions.map((c) => c.tokens),
          alone.map((c) => c.tokens),
          `request ${i}`,
        );
        together.completions.forEach((c, k) => {
          assert.equal(c.tokens.length, q.r.maxTokens, 'no end-of-sequence id: every sequence runs to max tokens');
          // bit for bit in f32 (batch-invariance.ts)
          assert.deepEqual(c.logprobs, alone[k].logprobs, `request ${i}`);
        });
      });
    } finally {
      decoder.free();
    }
  });
});

test('greedy sequences that joined late follow the arg-max of full forward passes', () => {
  withModel((model) => {
    const decoder = new SequenceDecoder(model, { spanBucket: 4 });
    const V = config.vocabSize;
    try {
      const a = decoder.add([[1, 2, 3, 4, 5, 6, 7]], { temperature: 0, maxTokens: 25 });
      for (let i = 0; i < 6; i++) decoder.step();
      const b = decoder.add([[9, 8]], { temperature: 0, maxTokens: 15 });
      while (!decoder.idle) decoder.step();
      for (const [r, prompt] of [
        [a, [1, 2, 3, 4, 5, 6, 7]],
        [b, [9, 8]],
      ] as [typeof a, number[]][]) {
        const seq = [...prompt];
        for (const tok of r.completions[0].tokens) {
          const row = model.logits([seq])[0].subarray((seq.length - 1) * V);
          let best = 0;
          row.forEach((x, v) => {
            if (x > row[best]) best = v;
          });
          assert.equal(tok, best);
          seq.push(tok);
        }
      }
    } finally {
      decoder.free();
    }
  });
});

test('a cancelled request frees its slots at once; maxSequences bounds what can join', () => {
  withModel((model) => {
    const decoder = new SequenceDecoder(model, { maxSequences: 4 });
    try {
      const long = decoder.add([[1, 2]], { temperature: 1, n: 3, maxTokens: 40, seed: 2 });
      decoder.step();
      assert.equal(decoder.fits(2), false);
      assert.throws(() => decoder.add([[3]], { temperature: 1, n: 2, maxTokens: 4 }), /at most 4 decode at once/);
      decoder.cancel(long);
      assert.ok(decoder.idle && long.cancelled && long.finished);
      assert.ok(decoder.fits(4));
      const next = decoder.add([[3]], { temperature: 0, n: 4, maxTokens: 3 });
      while (!decoder.idle) decoder.step();
      assert.deepEqual(
        next.completions.map((c) => c.tokens.length),
        [3, 3, 3, 3],
      );
      assert.ok(
        long.completions.every((c) => c.tokens.length < 40),
        'cancelled sequences stop growing',
      );
    } finally {
      decoder.free();
    }
  });
});
