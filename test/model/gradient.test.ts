/**
 * Finite-difference check of the full model's parameter gradients through the per-token-coefficient backward:
 * the engine backpropagates L(θ) = Σ g·logp + Σ h·V + Σ e·H (g, h, e fixed), and the gradient it accumulates must
 * equal central differences of L computed from forward passes alone.
 *
 * Tolerances (float32 forward, ε = 1e-2 on weights of scale 0.3): directional derivatives within 2e-3 relative,
 * single coordinates within 2e-2 relative or 2e-4 absolute (the largest-gradient coordinate of every tensor).
 */
import { test } from 'node:test';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';
import { assertGradientMatchesFd } from './fd-check.ts';

const TERMS = ['logp', 'values', 'entropy'] as const;

for (const [label, config] of Object.entries(tinyConfigs))
  for (const term of TERMS) {
    test(`parameter gradients match finite differences: ${label}, Σ coef·${term}`, () => {
      const model = new LlamaModel(config, { threads: 1, valueHead: true });
      try {
        const opt = model.createOptimizer();
        const rng = new Rng(17);
        const w0 = randomizeWeights(model.weights.save(), 23);
        model.weights.load(w0);
        const seqs = randomSequences(rng, [9, 5, 12], config.vocabSize);
        // one term at a time, so an error in any one of them cannot hide behind a larger other term
        const coef = (n: number, on: boolean) => Array.from({ length: n }, () => (on ? rng.normal() : 0));
        const g = seqs.map((s) => coef(s.length - 1, term === 'logp'));
        const h = seqs.map((s) => coef(s.length - 1, term === 'values'));
        const e = seqs.map((s) => coef(s.length - 1, term === 'entropy'));
        const objective = (): number => {
          const p = model.forward(seqs, { entropy: true });
          let L = 0;
          seqs.forEach((_, b) =>
            p.logp[b].forEach((lp, t) => (L += g[b][t] * lp + h[b][t] * p.values![b][t] + e[b][t] * p.entropy![b][t])),
          );
          return L;
        };
        model.forward(seqs, { grad: true, entropy: true }).backward({ logp: g, values: h, entropy: e });
        const names = [...model.weights.byName.keys()];
        const grads = new Map(names.map((n) => [n, opt.gradOf(model.weights.byName.get(n)!).readF32()]));
        assertGradientMatchesFd({
          names,
          start: w0,
          grads,
          load: (w) => model.weights.load(w),
          objective,
          rng,
          label: `${label} ${term}`,
        });
      } finally {
        model.free();
      }
    });
  }
