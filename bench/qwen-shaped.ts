/**
 * A Hugging Face folder shaped exactly like Qwen2.5-0.5B-Instruct (494M parameters), with random BF16 weights written
 * by grpo-ts itself and the real Qwen tokenizer: memory and speed on it are those of the real model (no pretrained
 * weights are downloaded). Used by bench:scale and bench:step.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeHfModel } from '../src/model/io/index.ts';
import { lazyHostTensor, type WeightMap } from '../src/model/host-tensor.ts';
import { expectedWeightShapes } from '../src/model/io/weight-names.ts';
import type { LlamaConfig } from '../src/model/config.ts';

/** Qwen2.5-0.5B-Instruct's config.json, field for field. */
export const qwen05: LlamaConfig = {
  arch: 'qwen2',
  vocabSize: 151936,
  dim: 896,
  nLayers: 24,
  nHeads: 14,
  nKvHeads: 2,
  headDim: 64,
  ffnDim: 4864,
  ropeTheta: 1000000,
  normEps: 1e-6,
  maxSeqLen: 32768,
  tieEmbeddings: true,
  qkvBias: true,
  qkNorm: false,
  bosTokenId: 151643,
  eosTokenIds: [151645, 151643],
};

/** Random weights generated tensor by tensor as they are written: norms 1, biases 0, matrices U(±0.02·√3). */
export function randomWeights(c: LlamaConfig): WeightMap {
  let state = 0x9e3779b9;
  const uniform = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  const out: WeightMap = new Map();
  for (const [name, shape] of expectedWeightShapes(c)) {
    out.set(
      name,
      lazyHostTensor(shape, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        if (name.endsWith('norm.weight')) return new Float32Array(n).fill(1);
        if (name.endsWith('.bias')) return new Float32Array(n);
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = uniform() * 0.0693;
        return a;
      }),
    );
  }
  return out;
}

/** Write the folder into `dir` (skipped when a complete one is already there); returns the seconds it took. */
export function writeQwenShapedFolder(dir: string, tokenizerDir: string, c: LlamaConfig = qwen05): number {
  const cfg = path.join(dir, 'config.json');
  if (
    existsSync(cfg) &&
    existsSync(path.join(dir, 'model.safetensors')) &&
    JSON.parse(readFileSync(cfg, 'utf8')).num_hidden_layers === c.nLayers
  )
    return 0;
  const t0 = performance.now();
  writeHfModel(
    dir,
    { config: c, weights: randomWeights(c) },
    { dtype: 'BF16', tokenizer: tokenizerDir, overwrite: true },
  );
  return (performance.now() - t0) / 1000;
}
