import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlamaModel } from '../../src/model/llama-model.ts';
import { generate } from '../../src/rollout/generate.ts';
import { tinyConfigs, withRandomModel } from '../model/tiny-configs.ts';

const config = { ...tinyConfigs['qwen3 (q/k norm, GQA 4:1)'], eosTokenIds: [2] };

const withModel = (fn: (m: LlamaModel) => void) => withRandomModel(config, 8, fn);

test('greedy generation follows the arg-max of full forward passes', () => {
  withModel((model) => {
    const prompts = [
      [1, 5, 9],
      [1, 30, 4, 4, 12, 7],
    ];
    const out = generate(model, prompts, { temperature: 0, maxTokens: 12, eosTokenIds: [] });
    const V = config.vocabSize;
    out.forEach((c) => {
      const seq = [...prompts[c.promptIndex]];
      for (const tok of c.tokens) {
        const row = model.logits([seq])[0].subarray((seq.length - 1) * V);
        let best = 0;
        row.forEach((x, v) => {
          if (x > row[best]) best = v;
        });
        assert.equal(tok, best);
        seq.push(tok);
      }
      assert.equal(c.tokens.length, 12);
      assert.equal(c.finishReason, 'length');
    });
  });
});

test('sampled log-probs equal teacher-forced scoring at the sampling temperature', () => {
  withModel((model) => {
    const prompts = [[1, 5, 9], [3]];
    const out = generate(model, prompts, {
      temperature: 0.7,
      topP: 0.9,
      n: 3,
      maxTokens: 10,
      seed: 4,
      eosTokenIds: [],
    });
    assert.equal(out.length, 6);
    assert.deepEqual(
      out.map((c) => [c.promptIndex, c.sampleIndex]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [1, 0],
        [1, 1],
        [1, 2],
      ],
    );
    const seqs = out.map((c) => [...prompts[c.promptIndex], ...c.tokens]);
    const scored = model.forward(seqs, { temperature: 0.7 });
    out.forEach((c, i) => {
      const P = prompts[c.promptIndex].length;
      c.logprobs.forEach((lp, t) =>
        assert.ok(Math.abs(lp - scored.logp[i][P - 1 + t]) < 1e-4, `sample ${i} token ${t}`),
      );
      c.samplingLogprobs.forEach((slp, t) =>
        assert.ok(slp >= c.logprobs[t] - 1e-6 && slp <= 1e-6, 'truncation can only raise a probability'),
      );
    });
    // the three samples of a prompt differ (independent draws from one shared prefill)
    assert.ok(new Set(out.slice(0, 3).map((c) => c.tokens.join())).size > 1);
  });
});

test('generation is reproducible from its seed', () => {
  withModel((model) => {
    const a = generate(model, [[1, 2]], { temperature: 1, n: 4, maxTokens: 8, seed: 11 });
    const b = generate(model, [[1, 2]], { temperature: 1, n: 4, maxTokens: 8, seed: 11 });
    const c = generate(model, [[1, 2]], { temperature: 1, n: 4, maxTokens: 8, seed: 12 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.map((x) => x.tokens),
      c.map((x) => x.tokens),
    );
  });
});

test('EOS and stop strings end a sequence with finish reason "stop"', () => {
  withModel((model) => {
    // make EOS the greedy choice after token 5
    const greedy = generate(model, [[1, 5]], { temperature: 0, maxTokens: 6, eosTokenIds: [] })[0].tokens;
    const eos = generate(model, [[1, 5]], { temperature: 0, maxTokens: 6, eosTokenIds: [greedy[2]] })[0];
    assert.equal(eos.finishReason, 'stop');
    assert.deepEqual(eos.tokens, greedy.slice(0, 3), 'the EOS token is kept as the last token');
    const decode = (ids: number[]) => ids.map((t) => `<${t}>`).join('');
    const stop = generate(model, [[1, 5]], {
      temperature: 0,
      maxTokens: 6,
      eosTokenIds: [],
      stop: [`<${greedy[1]}>`],
      decode,
    })[0];
    assert.equal(stop.finishReason, 'stop');
    assert.deepEqual(stop.tokens, greedy.slice(0, stop.tokens.length));
    assert.equal(stop.text, decode(stop.tokens).slice(0, decode(stop.tokens).indexOf(`<${greedy[1]}>`)));
  });
});

test('bad requests are clear errors', () => {
  withModel((model) => {
    assert.throws(() => generate(model, [[]], { maxTokens: 4, temperature: 0 }), /prompt 0 is empty/);
    assert.throws(
      () => generate(model, [[1]], { maxTokens: 0, temperature: 0 }),
      /maxTokens must be a positive integer/,
    );
    assert.throws(
      () => generate(model, [[1, 99]], { maxTokens: 2, temperature: 0 }),
      /token 99 is outside the vocabulary/,
    );
    assert.throws(
      () => generate(model, [[1]], { maxTokens: 2, temperature: 0, stop: ['x'] }),
      /stop strings need a decode function/,
    );
  });
});

test('BF16 decoding: log-probs close to the f32 policy, copies follow weight updates', () => {
  withModel((model) => {
    const prompts = [
      [1, 5, 9],
      [3, 4],
    ];
    const bf = generate(model, prompts, {
      temperature: 1,
      n: 2,
      maxTokens: 10,
      seed: 2,
      eosTokenIds: [],
      precision: 'bf16',
    });
    const score = () => model.forward(bf.map((c) => [...prompts[c.promptIndex], ...c.tokens]));
    const check = (out: typeof bf, scored: ReturnType<typeof score>, tol: number) =>
      out.forEach((c, i) =>
        c.logprobs.forEach((lp, t) =>
          assert.ok(
            Math.abs(lp - scored.logp[i][prompts[c.promptIndex].length - 1 + t]) < tol,
            `sample ${i} token ${t}: ${lp}`,
          ),
        ),
      );
    // BF16 keeps 8 bits of mantissa: log-probs agree to a few hundredths, not to float precision
    check(bf, score(), 0.1);
    assert.ok(
      bf.some((c, i) =>
        c.logprobs.some((lp, t) => Math.abs(lp - score().logp[i][prompts[c.promptIndex].length - 1 + t]) > 1e-6),
      ),
      'BF16 is really used',
    );
    // new weights: the copies are refreshed before the next generation
    const w = model.weights.save();
    for (const t of w.values()) for (let i = 0; i < t.data.length; i++) t.data[i] *= 0.5;
    model.weights.load(w);
    const after = generate(model, prompts, {
      temperature: 1,
      n: 2,
      maxTokens: 10,
      seed: 2,
      eosTokenIds: [],
      precision: 'bf16',
    });
    const scoredAfter = model.forward(after.map((c) => [...prompts[c.promptIndex], ...c.tokens]));
    check(after, scoredAfter, 0.1);
    assert.throws(
      () => generate(model, prompts, { temperature: 1, maxTokens: 2, precision: 'fp8' as never }),
      /precision must be 'f32', 'bf16' or 'auto'/,
    );
  });
});
