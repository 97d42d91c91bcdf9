// Test-only helpers for the SFT tests: a tiny model over the embedded task's character tokenizer.
import { LlamaModel } from '../../src/model/llama-model.ts';
import type { LlamaConfig } from '../../src/model/config.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';
import { createCharTokenizer } from '../../src/model/tokenizer/char-tokenizer.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';

export const task = embeddedTask('embedded:addition');
export const tokenizer = createCharTokenizer(task.vocabulary);

export function tinyCharConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    arch: 'llama',
    vocabSize: tokenizer.vocabSize,
    dim: 32,
    nLayers: 1,
    nHeads: 2,
    nKvHeads: 2,
    headDim: 16,
    ffnDim: 64,
    ropeTheta: 10000,
    normEps: 1e-5,
    maxSeqLen: 64,
    tieEmbeddings: true,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: tokenizer.bosId,
    eosTokenIds: [...tokenizer.eosIds],
    ...overrides,
  };
}

export function tinyModel(seed = 1, weights?: WeightMap, overrides: Partial<LlamaConfig> = {}): LlamaModel {
  return new LlamaModel(tinyCharConfig(overrides), { seed, threads: 1, weights });
}

/** The random initial weights of tinyModel(seed), as host tensors. */
export function initialWeights(seed = 1): WeightMap {
  const model = tinyModel(seed);
  try {
    return model.weights.save();
  } finally {
    model.free();
  }
}

/** Largest |a−b| / max(1, |a|) over every weight. */
export function maxRelativeDifference(a: WeightMap, b: WeightMap): number {
  let worst = 0;
  for (const [name, t] of a) {
    const u = b.get(name)!;
    for (let i = 0; i < t.data.length; i++)
      worst = Math.max(worst, Math.abs(t.data[i] - u.data[i]) / Math.max(1, Math.abs(t.data[i])));
  }
  return worst;
}
