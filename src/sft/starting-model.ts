/**
 * The model an SFT run starts from: the configured one (a Hugging Face folder, .gguf, llama2.c .bin or the
 * embedded model), or, with no model.path, a new model for an embedded task with its character tokenizer.
 */
import { LlamaModel } from '../model/llama-model.ts';
import { openModel } from '../model/open-model.ts';
import type { LlamaConfig } from '../model/config.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { createCharTokenizer } from '../model/tokenizer/char-tokenizer.ts';
import { embeddedTask } from '../data/synthetic/index.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { loraOptions } from '../trainer/config/lora-options.ts';
import { checkLoraRank } from '../model/lora.ts';
import { modelConfigOf, modelFormatOf } from '../model/io/index.ts';
import type { SftConfig } from './config.ts';
import { GrpoError } from '../errors.ts';

export interface StartingModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
}

export function openStartingModel(c: SftConfig): StartingModel {
  if (c.model.path === null) return newModel(c);
  const path = resolveModelPath(c.model.path);
  const lora = c.model.lora ? loraOptions(c.model.lora) : undefined;
  // config.json alone is read before the model and its adapters take memory; other formats are checked once open
  if (lora && modelFormatOf(path) === 'hf') checkLoraRank(modelConfigOf(path), lora);
  const opened = openModel(path, {
    threads: c.model.threads ?? undefined,
    device: c.model.device,
    tokenizer: c.model.tokenizer ?? undefined,
    precision: c.model.precision,
    ...trainingModelOptions(c),
  });
  try {
    if (lora) checkLoraRank(opened.model.config, lora);
  } catch (e) {
    opened.model.free();
    throw e;
  }
  return opened;
}

/** A new model for an embedded task (model.path null): its character tokenizer and model.init's shape. */
function newModel(c: SftConfig): StartingModel {
  const tokenizer = createCharTokenizer(embeddedTask(c.data.train).vocabulary);
  const i = c.model.init;
  if (i.dim % i.n_heads !== 0)
    throw new GrpoError(
      'config',
      `'model.init.dim' (${i.dim}) must be a multiple of 'model.init.n_heads' (${i.n_heads})`,
    );
  const config: LlamaConfig = {
    arch: 'llama',
    vocabSize: tokenizer.vocabSize,
    dim: i.dim,
    nLayers: i.n_layers,
    nHeads: i.n_heads,
    nKvHeads: i.n_kv_heads ?? i.n_heads,
    headDim: i.dim / i.n_heads,
    ffnDim: i.ffn_dim,
    ropeTheta: i.rope_theta,
    normEps: 1e-5,
    maxSeqLen: i.max_seq_len,
    tieEmbeddings: i.tie_embeddings,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: tokenizer.bosId,
    eosTokenIds: [...tokenizer.eosIds],
  };
  if (c.model.lora) checkLoraRank(config, loraOptions(c.model.lora));
  return {
    model: new LlamaModel(config, {
      seed: i.init_seed,
      threads: c.model.threads ?? undefined,
      device: c.model.device,
      precision: c.model.precision,
      ...trainingModelOptions(c),
    }),
    tokenizer,
  };
}

/** What a model needs to be trained: LoRA adapters, the frozen base's precision, activation recomputation. */
function trainingModelOptions(c: SftConfig) {
  return {
    lora: c.model.lora ? loraOptions(c.model.lora) : undefined,
    basePrecision: c.model.base_precision,
    recompute: c.training.gradient_checkpointing,
  };
}
