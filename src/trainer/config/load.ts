/**
 * `grpo train`'s config through the shared config module (src/config/): a YAML file, `--a.b value` flags or an
 * object of overrides, plugins, and every problem as one line naming the key (with a suggestion for a misspelt one).
 */
import type { z } from 'zod';
import { defineConfig, type ConfigOverrides } from '../../config/index.ts';
import { trainConfigSchema, type TrainConfig } from './schema.ts';

export const trainConfig = defineConfig({ command: 'train', schema: trainConfigSchema });

/** Overrides of a train config: `--a.b value` flags, or an object deep-merged over the file's keys. */
export type TrainConfigOverrides = ConfigOverrides<z.input<typeof trainConfigSchema>>;

export function validateTrainConfig(raw: unknown, label?: string): TrainConfig {
  return trainConfig.parse(raw, label);
}

/**
 * A YAML train config with overrides applied, validated. Synchronous: plugins the file names must be imported
 * already; `await trainConfig.loadAsync(file, overrides)` imports them first.
 */
export function loadTrainConfig(file: string, overrides: TrainConfigOverrides = []): TrainConfig {
  return trainConfig.load(file, overrides).config;
}
