import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { referenceLogits, logSoftmax } from './reference-llama.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { VALUE_HEAD } from '../../src/model/llama-weights.ts';
import { Rng } from '../../src/util/rng.ts';

const TOL = 1e-4;

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`ggml forward matches the float64 TypeScript reference: ${label}`, () => {
    const model = new LlamaModel(config, { threads: 1, valueHead: true });
    try {
      const w = randomizeWeights(model.weights.save(), 11);
      // value head = row 5 of the output projection, so V_t must equal logit_t[5]
      const head = w.get(config.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!;
      w.get(VALUE_HEAD)!.data.set(head.data.subarray(5 * config.dim, 6 * config.dim));
      model.weights.load(w);
      const rng = new Rng(5);
      // ragged lengths exercise padding; 21 > the pad multiple exercises two padded sizes over the test
      const seqs = randomSequences(rng, [21, 7, 2], config.vocabSize);
      const logits = model.logits(seqs);
      const pass = model.forward(seqs, { entropy: true });
      let maxLogit = 0,
        maxLogp = 0,
        maxEnt = 0,
        maxValue = 0;
      seqs.forEach((s, b) => {
        const ref = referenceLogits(config, w, s);
        ref.forEach((row, t) => {
          row.forEach((v, i) => (maxLogit = Math.max(maxLogit, Math.abs(v - logits[b][t * config.vocabSize + i]))));
          if (t + 1 < s.length) {
            const ls = logSoftmax(row);
            maxLogp = Math.max(maxLogp, Math.abs(ls[s[t + 1]] - pass.logp[b][t]));
            const ent = -ls.reduce((a, l) => a + Math.exp(l) * l, 0);
            maxEnt = Math.max(maxEnt, Math.abs(ent - pass.entropy![b][t]));
            maxValue = Math.max(maxValue, Math.abs(row[5] - pass.values![b][t]));
          }
        });
        assert.equal(pass.logp[b].length, s.length - 1);
      });
      assert.ok(maxLogit < TOL, `logits differ by ${maxLogit}`);
      assert.ok(maxLogp < TOL, `log-probs differ by ${maxLogp}`);
      assert.ok(maxEnt < TOL, `entropies differ by ${maxEnt}`);
      assert.ok(maxValue < TOL, `values differ by ${maxValue}`);
    } finally {
      model.free();
    }
  });
}
