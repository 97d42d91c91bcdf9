import { existsSync, statSync } from 'node:fs';
import { GrpoError } from '../../errors.ts';
import { readGgufModel } from './gguf-model.ts';
import { readHfConfig, readHfModel } from './hf-folder.ts';
import type { LlamaConfig } from '../config.ts';
import { readLlama2cModel } from './llama2c-model.ts';
import type { LoadedModel } from './loaded-model.ts';

export type ModelFormat = 'hf' | 'gguf' | 'llama2c';

/** Which reader a path needs: a folder is a Hugging Face model, .gguf is GGUF, .bin is llama2.c. */
export function modelFormatOf(path: string): ModelFormat {
  if (!existsSync(path)) throw new GrpoError('io', `model path ${path} does not exist`);
  if (statSync(path).isDirectory()) return 'hf';
  if (/\.gguf$/i.test(path)) return 'gguf';
  if (/\.bin$/i.test(path)) return 'llama2c';
  throw new GrpoError(
    'io',
    `cannot tell the format of ${path}: pass a Hugging Face model folder, a .gguf file or a llama2.c .bin file`,
  );
}

/** Load config + float32 weights in Hugging Face naming and layout from any supported format. */
export function loadModelWeights(path: string): LoadedModel & { format: ModelFormat } {
  const format = modelFormatOf(path);
  const model = format === 'hf' ? readHfModel(path) : format === 'gguf' ? readGgufModel(path) : readLlama2cModel(path);
  return { ...model, format };
}

/** The model config alone (a Hugging Face folder's config.json; other formats are read whole). */
export function modelConfigOf(path: string): LlamaConfig {
  return modelFormatOf(path) === 'hf' ? readHfConfig(path) : loadModelWeights(path).config;
}
