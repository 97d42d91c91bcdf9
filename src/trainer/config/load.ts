/**
 * `grpo train`'s config through the shared config module (src/config/): a YAML file, `--a.b value` flags, and
 * every problem as one line naming the key (with a suggestion for a misspelt one).
 */
import { defineConfig } from '../../config/index.ts';
import { trainConfigSchema, type TrainConfig } from './schema.ts';

export const trainConfig = defineConfig({ command: 'train', schema: trainConfigSchema });

export function validateTrainConfig(raw: unknown, label?: string): TrainConfig {
  return trainConfig.parse(raw, label);
}

export function loadTrainConfig(file: string, overrides: readonly string[] = []): TrainConfig {
  return trainConfig.load(file, overrides).config;
}
