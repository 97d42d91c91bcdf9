// Test-only helpers: tiny random models and temp folders (no ../shared needed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaConfig } from '../../src/model/config.ts';
import { hostTensor, type WeightMap } from '../../src/model/host-tensor.ts';
import { expectedWeightShapes } from '../../src/model/io/weight-names.ts';

export function tinyConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    arch: 'llama',
    vocabSize: 37,
    dim: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 4,
    ffnDim: 24,
    ropeTheta: 10000,
    normEps: 1e-5,
    maxSeqLen: 64,
    tieEmbeddings: false,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    ...overrides,
  };
}

/** Deterministic pseudo-random floats (mulberry32), varied enough that any row mix-up shows. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

export function randomWeights(c: LlamaConfig, seed = 1): WeightMap {
  const r = rng(seed);
  const w: WeightMap = new Map();
  for (const [name, shape] of expectedWeightShapes(c)) {
    const t = hostTensor(shape);
    for (let i = 0; i < t.data.length; i++) t.data[i] = r();
    w.set(name, t);
  }
  return w;
}

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-io-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function assertSameWeights(a: WeightMap, b: WeightMap): string[] {
  const problems: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k),
      y = b.get(k);
    if (!x || !y) {
      problems.push(`${k} only in ${x ? 'first' : 'second'}`);
      continue;
    }
    if (x.shape.join() !== y.shape.join()) {
      problems.push(`${k} shape ${x.shape} vs ${y.shape}`);
      continue;
    }
    for (let i = 0; i < x.data.length; i++) {
      if (!Object.is(x.data[i], y.data[i])) {
        problems.push(`${k}[${i}] ${x.data[i]} vs ${y.data[i]}`);
        break;
      }
    }
  }
  return problems;
}
