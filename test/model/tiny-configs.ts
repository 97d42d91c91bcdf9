import type { LlamaConfig } from '../../src/model/config.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';
import { Rng } from '../../src/util/rng.ts';
import { LlamaModel } from '../../src/model/llama-model.ts';

const base = {
  vocabSize: 37,
  dim: 32,
  nLayers: 2,
  headDim: 8,
  ffnDim: 48,
  ropeTheta: 10000,
  normEps: 1e-6,
  maxSeqLen: 64,
};

/** One tiny config per architecture feature the graph supports. */
export const tinyConfigs: Record<string, LlamaConfig> = {
  'llama (GQA, tied)': {
    ...base,
    arch: 'llama',
    nHeads: 4,
    nKvHeads: 2,
    tieEmbeddings: true,
    qkvBias: false,
    qkNorm: false,
  },
  'qwen2 (bias, MHA)': {
    ...base,
    arch: 'qwen2',
    nHeads: 4,
    nKvHeads: 4,
    tieEmbeddings: false,
    qkvBias: true,
    qkNorm: false,
    ropeTheta: 1e6,
  },
  'qwen3 (q/k norm, GQA 4:1)': {
    ...base,
    arch: 'qwen3',
    nHeads: 4,
    nKvHeads: 1,
    tieEmbeddings: false,
    qkvBias: false,
    qkNorm: true,
  },
};

/** Overwrite every weight with N(0, std²) draws (norm gains around 1) so activations are far from trivial. */
export function randomizeWeights(w: WeightMap, seed: number, std = 0.3): WeightMap {
  const rng = new Rng(seed);
  for (const [name, t] of w) {
    for (let i = 0; i < t.data.length; i++)
      t.data[i] = name.endsWith('norm.weight') ? 1 + rng.normal() * 0.2 : rng.normal() * std;
  }
  return w;
}

export function randomSequences(rng: Rng, lengths: number[], vocab: number): number[][] {
  return lengths.map((n) => Array.from({ length: n }, () => rng.int(vocab)));
}

/** Runs `fn` on a one-thread model of `config` with random weights (seed `seed`), then frees it. */
export function withRandomModel(config: LlamaConfig, seed: number, fn: (m: LlamaModel) => void): void {
  const model = new LlamaModel(config, { threads: 1 });
  try {
    model.weights.load(randomizeWeights(model.weights.save(), seed));
    fn(model);
  } finally {
    model.free();
  }
}
