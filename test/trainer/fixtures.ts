/** A tiny model folder and toy task for trainer tests (no shared data). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeHfModel } from '../../src/model/io/index.ts';
import { loadTokenizer } from '../../src/model/tokenizer/index.ts';
import { tinyConfig, randomWeights } from '../model/io-fixtures.ts';
import { tinySentencePieceVocab, writeLlama2cTokenizer } from '../model/tokenizer-fixtures.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import type { RewardSpec } from '../../src/rewards/index.ts';
import type { EmbeddedTasks } from '../../src/data/index.ts';

/**
 * A random tiny Llama with the tiny SentencePiece vocabulary, saved as an HF folder; returns its path.
 * `finalNorm`: the final RMSNorm's gain. The random one (|g| < 0.5) keeps every logit near zero whatever the
 * hidden state, so only a trained head can sharpen the output; LoRA tests, whose head is frozen, pass a larger one.
 */
export function tinyModelFolder(
  dir = mkdtempSync(path.join(tmpdir(), 'grpo-train-')),
  opts: { finalNorm?: number } = {},
): string {
  const { pieces, scores } = tinySentencePieceVocab();
  writeLlama2cTokenizer(path.join(dir, 'tok.bin'), pieces, scores);
  const tokenizer = loadTokenizer(path.join(dir, 'tok.bin'));
  const config = tinyConfig({ vocabSize: pieces.length, bosTokenId: 1, eosTokenIds: [2] });
  const weights = randomWeights(config, 3);
  if (opts.finalNorm !== undefined) weights.get('model.norm.weight')!.data.fill(opts.finalNorm);
  writeHfModel(path.join(dir, 'model'), { config, weights }, { tokenizer });
  return path.join(dir, 'model');
}

/** Prompts "a", "b", … ; the reward is the share of completion characters that are 'a' (easy to learn). */
export const toyTasks: EmbeddedTasks = {
  toy: (split) =>
    Array.from({ length: split === 'train' ? 32 : 8 }, (_, i) => ({
      id: `${split}-${i}`,
      prompt: ['ab', 'ca', 'bc', 'hello'][i % 4],
    })),
};

export const shareOfA: RewardSpec = {
  name: 'share_a',
  weight: 1,
  fn: (completion) => (completion.length ? [...completion].filter((c) => c === 'a').length / completion.length : 0),
};

export function toyConfig(modelPath: string, outDir: string, overrides: Record<string, unknown> = {}) {
  const base = {
    name: 'toy',
    out_dir: outDir,
    seed: 1,
    model: { path: modelPath, threads: 1, precision: 'f32' },
    data: { train: 'embedded:toy', eval: 'embedded:toy', eval_size: 8 },
    rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 8, temperature: 1 },
    rewards: [{ type: 'format' }],
    optimizer: { lr: 3e-3 },
    training: { steps: 20, micro_batch_groups: 2, log_completions_every: 0 },
  };
  const merged = { ...base, ...overrides } as Record<string, unknown>;
  for (const k of ['rollout', 'training', 'optimizer', 'algorithm', 'data']) {
    if (overrides[k]) merged[k] = { ...((base as Record<string, unknown>)[k] as object), ...(overrides[k] as object) };
  }
  return validateTrainConfig(merged);
}
