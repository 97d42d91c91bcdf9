/** KV-cache decoding equals a full forward pass at every step (prefill with left padding, shared prefill, decode). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { KvCache } from '../../src/model/kv-cache.ts';
import { DecodeGraph, copySlots } from '../../src/model/decode-graph.ts';
import { tinyConfigs, randomizeWeights } from './tiny-configs.ts';

const TOL = 1e-4;

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`KV-cache decoding matches the full forward at every step: ${label}`, () => {
    const model = new LlamaModel(config, { threads: 1 });
    const prompts = [
      [1, 2, 3, 4, 5],
      [7, 8],
    ];
    const n = 2,
      P = 5,
      steps = 20,
      span = 16;
    const cache = new KvCache(config, model.backend, prompts.length * n, P + steps);
    const graphs: DecodeGraph[] = [];
    try {
      model.weights.load(randomizeWeights(model.weights.save(), 3));
      const V = config.vocabSize;
      const lastRow = (seq: number[]) => {
        const l = model.logits([seq])[0];
        return l.subarray((seq.length - 1) * V);
      };
      let worst = 0;
      const compare = (seq: number[], row: Float32Array) => {
        const ref = lastRow(seq);
        ref.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - row[v]))));
      };

      // prefill the two prompts (left-padded to 5) into slots 0 and 2, then share them with slots 1 and 3
      const pad = prompts.map((p) => P - p.length);
      const pre = new DecodeGraph(
        model.backend,
        model.weights,
        cache,
        { nNew: P, span: P, slots: prompts.length, slotStride: n },
        model.weightCopies(),
      );
      graphs.push(pre);
      pre.write(Int32Array.from(prompts.flatMap((p, i) => [...new Array(pad[i]).fill(0), ...p])), pad, 0);
      const first = pre.compute();
      prompts.forEach((p, i) => compare(p, first.subarray(i * V, (i + 1) * V)));
      copySlots(
        model.backend,
        cache,
        cache,
        prompts.map((_, i) => [i * n, [i * n + 1]]),
        P,
      );

      const seqs = prompts.flatMap((p) => [[...p], [...p]]);
      const pads = prompts.flatMap((_, i) => [pad[i], pad[i]]);
      let dec: DecodeGraph | null = null;
      for (let k = 0; k < steps; k++) {
        const pos = P + k;
        const want = pos < span ? span : P + steps; // the span grows in buckets: the graph is rebuilt once
        if (!dec || dec.shape.span !== want) {
          dec = new DecodeGraph(
            model.backend,
            model.weights,
            cache,
            { nNew: 1, span: want, slots: 4, slotStride: 1 },
            model.weightCopies(),
          );
          graphs.push(dec);
        }
        const next = Int32Array.from(seqs, (s, j) => (s.length * 7 + j * 3) % V);
        seqs.forEach((s, j) => s.push(next[j]));
        dec.write(next, pads, pos);
        const logits = dec.compute();
        seqs.forEach((s, j) => compare(s, logits.subarray(j * V, (j + 1) * V)));
      }
      assert.ok(worst < TOL, `cached logits differ from the full forward by ${worst}`);
      assert.throws(() => dec!.compute(), /needs write\(\) first/);
    } finally {
      graphs.forEach((g) => g.free());
      cache.free();
      model.free();
    }
  });
}

test("a decode graph of probabilities gives softmax(logits / T) with each slot's own temperature", () => {
  const config = tinyConfigs['qwen2 (bias, MHA)'];
  const model = new LlamaModel(config, { threads: 1 });
  const cache = new KvCache(config, model.backend, 3, 8);
  const graphs: DecodeGraph[] = [];
  try {
    model.weights.load(randomizeWeights(model.weights.save(), 5));
    const shape = { nNew: 4, span: 4, slots: 3, slotStride: 1 };
    const tokens = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const logitsGraph = new DecodeGraph(model.backend, model.weights, cache, shape, model.weightCopies());
    const probsGraph = new DecodeGraph(
      model.backend,
      model.weights,
      cache,
      shape,
      model.weightCopies(),
      null,
      'probabilities',
    );
    graphs.push(logitsGraph, probsGraph);
    logitsGraph.write(tokens, [0, 0, 0], 0);
    const logits = logitsGraph.compute();
    const inverseT = [1, 1 / 0.7, 1 / 1.5];
    assert.throws(() => probsGraph.write(tokens, [0, 0, 0], 0), /pass 3 inverse temperatures/);
    probsGraph.write(tokens, [0, 0, 0], 0, undefined, inverseT);
    const probs = probsGraph.compute();
    const V = config.vocabSize;
    inverseT.forEach((s, slot) => {
      const row = logits.subarray(slot * V, (slot + 1) * V);
      const m = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp((x - m) * s), 0);
      row.forEach((x, v) =>
        assert.ok(Math.abs(Math.exp((x - m) * s) / z - probs[slot * V + v]) < 1e-6, `slot ${slot} token ${v}`),
      );
    });
  } finally {
    graphs.forEach((g) => g.free());
    cache.free();
    model.free();
  }
});
