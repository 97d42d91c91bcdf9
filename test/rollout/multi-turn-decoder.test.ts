// Multi-turn decoding: a sequence pauses when it stops, takes appended (environment) tokens into its own cache and
// samples on. What it samples, and the log-probs it reports, are those of a full forward pass over the same tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlamaModel } from '../../src/model/llama-model.ts';
import { SequenceDecoder } from '../../src/rollout/sequence-decoder.ts';
import type { DecodeRequest } from '../../src/rollout/decode-request.ts';
import type { Completion } from '../../src/rollout/completion.ts';
import { generate } from '../../src/rollout/generate.ts';
import { Rng } from '../../src/util/rng.ts';
import { DecodeGraph } from '../../src/model/decode-graph.ts';
import { tinyConfigs, withRandomModel } from '../model/tiny-configs.ts';

const config = { ...tinyConfigs['llama (GQA, tied)'], eosTokenIds: [] };
const STOP = [3, 11];
const withModel = (fn: (m: LlamaModel) => void) => withRandomModel(config, 5, fn);

/** Drive a multi-turn request: every pause gets `reply(c, turn)` appended, until maxTurns turns, then stops. */
function runEpisodes(
  decoder: SequenceDecoder,
  request: DecodeRequest,
  reply: (c: Completion, turn: number) => number[],
  maxTurns: number,
): void {
  const turns = new Map<Completion, number>();
  for (let k = 0; k < 500 && !request.finished; k++) {
    decoder.step();
    for (const c of decoder.takePaused()) {
      const turn = (turns.get(c) ?? 0) + 1;
      turns.set(c, turn);
      const tokens = reply(c, turn);
      if (turn >= maxTurns || tokens.length > request.options.maxTokens - c.tokens.length - 1) decoder.stop(c);
      else decoder.resume(c, tokens);
    }
  }
  assert.ok(request.finished, 'every episode ended');
}

test('multi-turn sequences (appended tokens prefilled at their own positions) report the log-probs of a teacher-forced pass', () => {
  withModel((model) => {
    const decoder = new SequenceDecoder(model, { spanBucket: 8 });
    try {
      // an unrelated request decodes beside the episodes the whole time (its slot sits between theirs)
      const other = decoder.add([[1, 2, 3]], { temperature: 1, maxTokens: 50, seed: 3 });
      const rng = new Rng(2);
      const request = decoder.add(
        [
          [1, 4, 9],
          [1, 20, 21, 22, 23],
        ],
        { temperature: 1, n: 3, maxTokens: 56, seed: 7, eosTokenIds: STOP, multiTurn: true },
      );
      runEpisodes(decoder, request, () => Array.from({ length: 1 + rng.int(6) }, () => 12 + rng.int(20)), 4);
      while (!decoder.idle) decoder.step();
      assert.ok(other.finished);
      let appended = 0;
      for (const c of request.completions) {
        const mask = c.sampledMask!;
        assert.equal(mask.length, c.tokens.length);
        appended += mask.filter((m) => m === 0).length;
        const prompt = request.prompts[c.promptIndex];
        const [logp] = model.forward([[...prompt, ...c.tokens]]).logp;
        c.tokens.forEach((_, t) => {
          if (mask[t] === 0) assert.equal(c.logprobs[t], 0, 'an appended token has no sampling log-prob');
          else
            assert.ok(
              Math.abs(c.logprobs[t] - logp[prompt.length - 1 + t]) < 1e-4,
              `completion ${c.promptIndex}/${c.sampleIndex} token ${t}: ${c.logprobs[t]} vs ${logp[prompt.length - 1 + t]}`,
            );
        });
      }
      assert.ok(appended > 0, 'some episodes took environment tokens');
      assert.ok(
        request.completions.some(
          (c) => c.sampledMask!.lastIndexOf(0) > 0 && c.sampledMask!.lastIndexOf(0) < c.tokens.length - 1,
        ),
        'some sampled after an answer',
      );
    } finally {
      decoder.free();
    }
  });
});

test('greedy multi-turn episodes follow the arg-max of full forward passes, and a stopped one frees its slot', () => {
  withModel((model) => {
    const V = config.vocabSize;
    const decoder = new SequenceDecoder(model, { spanBucket: 4 });
    try {
      const prompt = [1, 30, 31];
      // greedy: every token is the arg-max, so stop on whatever the first sampled token is to force turns
      const first = generate(model, [prompt], { temperature: 0, maxTokens: 1 })[0].tokens[0];
      const request = decoder.add([prompt], { temperature: 0, maxTokens: 30, eosTokenIds: [first], multiTurn: true });
      runEpisodes(decoder, request, (_c, turn) => [5 + turn, 6 + turn], 3);
      const c = request.completions[0];
      assert.ok(c.sampledMask!.includes(0));
      const seq = [...prompt];
      c.tokens.forEach((tok, t) => {
        if (c.sampledMask![t] === 1) {
          const row = model.logits([seq])[0].subarray((seq.length - 1) * V);
          let best = 0;
          row.forEach((x, v) => {
            if (x > row[best]) best = v;
          });
          assert.equal(tok, best, `token ${t}`);
        }
        seq.push(tok);
      });
      assert.ok(decoder.idle, 'the stopped episode left the decoder');
    } finally {
      decoder.free();
    }
  });
});

test('resume refuses what is not a paused sequence, and tokens past the episode budget', () => {
  withModel((model) => {
    const decoder = new SequenceDecoder(model);
    try {
      const r = decoder.add([[1, 2]], { temperature: 0, maxTokens: 5, multiTurn: true, eosTokenIds: [] });
      decoder.step();
      assert.throws(() => decoder.resume(r.completions[0], [4]), /not a paused multi-turn sequence/);
      const first = r.completions[0].tokens[0];
      const s = decoder.add([[1, 2]], { temperature: 0, maxTokens: 5, multiTurn: true, eosTokenIds: [first] });
      decoder.step();
      const [c] = decoder.takePaused();
      assert.equal(c, s.completions[0]);
      assert.throws(() => decoder.resume(c, [4, 4, 4, 4]), /no room in the episode's budget of 5 tokens/);
      assert.throws(() => decoder.resume(c, [999]), /outside the vocabulary/);
    } finally {
      decoder.free();
    }
  });
});

test('a resumed sequence prefills only its last sampled token and the appended ones: the conversation is never re-encoded', () => {
  withModel((model) => {
    const write = DecodeGraph.prototype.write;
    let prefilled = 0;
    // every multi-token write is a prefill (prompts, or what resume() appended); count its real tokens
    DecodeGraph.prototype.write = function (this: DecodeGraph, tokens, pad, start, lengths, inverseTemperatures) {
      if (this.shape.nNew > 1 || lengths)
        prefilled += lengths ? Array.from(lengths).reduce((a, b) => a + b, 0) : this.shape.nNew * this.shape.slots;
      return write.call(this, tokens, pad, start, lengths, inverseTemperatures);
    };
    const decoder = new SequenceDecoder(model, { spanBucket: 8 });
    try {
      const prompts = [
        [1, 4, 9, 16],
        [1, 20],
      ];
      const request = decoder.add(prompts, {
        temperature: 1,
        n: 2,
        maxTokens: 50,
        seed: 11,
        eosTokenIds: STOP,
        multiTurn: true,
      });
      runEpisodes(decoder, request, (_c, turn) => [12 + turn, 13, 14], 4);
      const appended = request.completions.reduce((a, c) => a + c.sampledMask!.filter((m) => m === 0).length, 0);
      const resumed = appended / 3;
      assert.ok(resumed > 0);
      assert.equal(
        prefilled,
        4 + 2 + resumed * (1 + 3),
        'each prompt once (shared by its samples), then per resume its last sampled token and the 3 appended',
      );
    } finally {
      DecodeGraph.prototype.write = write;
      decoder.free();
    }
  });
});
