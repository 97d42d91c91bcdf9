import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GrpoError } from '../../errors.ts';
import { validateConfig, type LlamaConfig } from '../config.ts';
import type { WeightMap } from '../host-tensor.ts';
import { writeDirAtomic } from '../../util/atomic.ts';
import { hfConfigFromLlama, llamaConfigFromHf } from './hf-config.ts';
import type { LoadedModel } from './loaded-model.ts';
import { readSafetensors, writeSafetensors, type SafetensorsWriteDtype } from './safetensors.ts';
import { checkWeights, orderedWeights } from './weight-names.ts';
import { hfTokenizerFilesFor } from '../tokenizer/hf-export.ts';
import { loadTokenizer } from '../tokenizer/load-tokenizer.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

/**
 * Hugging Face model folders: config.json (+ generation_config.json) and model.safetensors or
 * model.safetensors.index.json with shards. Weights come back in HF layout unchanged (no permutation).
 */

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new GrpoError('io', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The safetensors files of a folder, single or sharded, with a clear error for other checkpoint kinds. */
export function safetensorsFilesIn(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const weightMap = readJson(index).weight_map as Record<string, string> | undefined;
    if (!weightMap) throw new GrpoError('io', `${index} has no weight_map`);
    return [...new Set(Object.values(weightMap))].sort().map((f) => join(dir, f));
  }
  const hint =
    existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'))
      ? '; PyTorch .bin checkpoints are not supported: re-save with save_pretrained(dir, safe_serialization=True)'
      : '';
  throw new GrpoError('io', `${dir}: no model.safetensors or model.safetensors.index.json${hint}`);
}

/** Buffers some checkpoints carry that are not parameters. */
const ignoredTensor = (name: string): boolean => name.endsWith('.rotary_emb.inv_freq');

/** The model config of a Hugging Face folder (config.json, with generation_config.json's token ids). */
export function readHfConfig(dir: string): LlamaConfig {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new GrpoError('io', `${dir} is not a Hugging Face model folder: config.json is missing`);
  const genPath = join(dir, 'generation_config.json');
  return llamaConfigFromHf(readJson(configPath), configPath, existsSync(genPath) ? readJson(genPath) : {});
}

/**
 * Config and weights of a Hugging Face folder. The weights are read from the files lazily, one tensor when its
 * `data` is accessed (uploading a model never holds a host copy of it all): use them before the folder changes.
 */
export function readHfModel(dir: string): LoadedModel {
  const config = readHfConfig(dir);
  const weights: WeightMap = new Map();
  for (const file of safetensorsFilesIn(dir)) {
    if (!existsSync(file))
      throw new GrpoError('io', `${dir}: shard ${basename(file)} listed in model.safetensors.index.json is missing`);
    for (const [name, t] of readSafetensors(file, (n) => !ignoredTensor(n), { lazy: true })) {
      if (weights.has(name)) throw new GrpoError('io', `${dir}: tensor '${name}' appears in more than one shard`);
      weights.set(name, t);
    }
  }
  // transformers ties lm_head to the embedding and ignores a stored copy; do the same.
  if (config.tieEmbeddings) weights.delete('lm_head.weight');
  checkWeights(config, weights, dir);
  return { config, weights };
}

/** Files that make up a Hugging Face tokenizer (and generation defaults) in a model folder. */
export const hfTokenizerFiles = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'chat_template.jinja',
  'chat_template.json',
  'generation_config.json',
];

/** Tokenizer files to put beside the weights: copied from an HF folder/files, or generated (llama2.c .bin, GGUF). */
function tokenizerFilesFrom(source: string | string[] | Tokenizer): {
  copy: string[];
  generated: Record<string, string>;
} {
  if (typeof source === 'object' && !Array.isArray(source)) return { copy: [], generated: hfTokenizerFilesFor(source) };
  const copy: string[] = [];
  let generated: Record<string, string> = {};
  for (const p of Array.isArray(source) ? source : [source]) {
    if (!existsSync(p)) throw new GrpoError('io', `tokenizer file or folder ${p} does not exist`);
    if (statSync(p).isDirectory()) copy.push(...hfTokenizerFiles.map((f) => join(p, f)).filter((f) => existsSync(f)));
    else if (/\.(bin|gguf)$/i.test(p)) generated = { ...generated, ...hfTokenizerFilesFor(loadTokenizer(p)) };
    else copy.push(p);
  }
  return { copy, generated };
}

export interface WriteHfModelOptions {
  /** weight dtype in model.safetensors; F32 keeps training state exact, BF16 (or F16) halves the size */
  dtype?: SafetensorsWriteDtype;
  /**
   * The tokenizer to save beside the weights: an HF folder (its tokenizer files are copied), explicit files to
   * copy, a llama2.c tokenizer .bin or a .gguf (converted to tokenizer.json), or a loaded Tokenizer.
   */
  tokenizer?: string | string[] | Tokenizer;
  /** replace an existing folder at `dir` (default true) */
  overwrite?: boolean;
}

/**
 * Save a model as a Hugging Face folder that transformers and vLLM load. The folder is built under a staging
 * name beside `dir` and renamed into place, so readers never see a half-written checkpoint.
 */
export function writeHfModel(dir: string, model: LoadedModel, opts: WriteHfModelOptions = {}): void {
  const config = validateConfig(model.config);
  checkWeights(config, model.weights, `saving ${dir}`);
  const dtype = opts.dtype ?? 'F32';
  const tokenizerFiles = opts.tokenizer ? tokenizerFilesFrom(opts.tokenizer) : { copy: [], generated: {} };
  if (existsSync(dir) && opts.overwrite === false)
    throw new GrpoError('io', `${dir} already exists; pass overwrite: true to replace it`);

  writeDirAtomic(dir, (tmp) => {
    const hfConfig = hfConfigFromLlama(config, ({ F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const)[dtype]);
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(hfConfig, null, 2) + '\n');
    writeSafetensors(join(tmp, 'model.safetensors'), orderedWeights(config, model.weights), { dtype });
    writeFiles(tmp, tokenizerFiles);
    if (!tokenizerFiles.copy.some((f) => basename(f) === 'generation_config.json')) {
      const gen: Record<string, unknown> = {};
      if (hfConfig.bos_token_id !== undefined) gen.bos_token_id = hfConfig.bos_token_id;
      if (hfConfig.eos_token_id !== undefined) gen.eos_token_id = hfConfig.eos_token_id;
      writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
    }
  });
}

function writeFiles(dir: string, files: { copy: string[]; generated: Record<string, string> }): void {
  for (const f of files.copy) copyFileSync(f, join(dir, basename(f)));
  for (const [name, text] of Object.entries(files.generated)) writeFileSync(join(dir, name), text);
}

/** Put a tokenizer's Hugging Face files in `dir` (beside an adapter, say), as writeHfModel does. */
export function writeTokenizerFiles(dir: string, tokenizer: string | string[] | Tokenizer): void {
  writeFiles(dir, tokenizerFilesFrom(tokenizer));
}
