/**
 * The `grpo pipeline` config: the model the first stage starts from and the stages, each a `grpo sft` or
 * `grpo train` config, which the pipeline wires to the previous stage's model and to the run's folder.
 */
import path from 'node:path';
import { z } from 'zod';
import { GrpoError } from '../errors.ts';
import { defineConfig, pluginsField, runSectionFields, type ConfigOverrides } from '../config/index.ts';
import { parseSftConfig, type SftConfig } from '../sft/config.ts';
import { validateTrainConfig } from '../trainer/config/load.ts';
import type { TrainConfig } from '../trainer/config/schema.ts';

const stageSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[\w.-]+$/, 'use letters, digits, ".", "-" and "_"')
    .describe('stage name: its folder under the run'),
  kind: z
    .enum(['sft', 'train'])
    .describe('sft: a grpo sft config (cold_start or rejection_sampling); train: a grpo train config'),
  config: z
    .record(z.string(), z.unknown())
    .default({})
    .describe(
      "that command's config; model.path defaults to the previous stage's model, output paths to the stage folder",
    ),
});

export const pipelineConfigSchema = z.strictObject({
  ...runSectionFields('pipeline'),
  plugins: pluginsField.describe(
    "modules to import first (paths relative to this file, or package names): what they register, every stage's config may name",
  ),
  model: z.string().describe('the model the first stage starts from (a path, or embedded)'),
  stages: z.array(stageSchema).min(1).describe('the stages, in order'),
});

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

export type PipelineStage = PipelineConfig['stages'][number];

/** A stage's own config, parsed as its command parses it. */
export type StageConfig = { kind: 'sft'; config: SftConfig } | { kind: 'train'; config: TrainConfig };

export const pipelineConfig = defineConfig({
  command: 'pipeline',
  schema: pipelineConfigSchema,
  check(c, label) {
    const names = c.stages.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice)
      throw new GrpoError('config', `${label}: stage name '${twice}' is used twice; each stage needs its own folder`);
  },
});

export function loadPipelineConfig(
  file: string,
  overrides: ConfigOverrides<z.input<typeof pipelineConfigSchema>> = [],
): PipelineConfig {
  return pipelineConfig.load(file, overrides).config;
}

/** A stage's own config with the pipeline's wiring: its starting model and its output folder. */
export function stageConfig(stage: PipelineStage, runDir: string, startModel: string): StageConfig {
  const c = structuredClone(stage.config) as Record<string, unknown>;
  const model = { ...(c.model as Record<string, unknown> | undefined) };
  if (model.path === undefined) model.path = startModel;
  const label = `stage '${stage.name}'`;
  if (c.plugins !== undefined)
    throw new GrpoError(
      'config',
      `${label}: plugins are named at the pipeline's top level, where every stage sees them`,
    );
  // both kinds write to <out_dir>/<name>/: the pipeline's run folder and the stage's name
  const set = ['name', 'out_dir', 'output_dir'].filter((k) => c[k] !== undefined);
  if (set.length)
    throw new GrpoError(
      'config',
      `${label}: ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set by the pipeline (${path.join(runDir, stage.name)}); remove ${set.length > 1 ? 'them' : 'it'}`,
    );
  // a stage not recorded finished is rerun over what an interrupted attempt left (an RL stage resumes first)
  const identity = { name: stage.name, out_dir: runDir, overwrite: true };
  if (stage.kind === 'sft')
    return { kind: 'sft', config: parseSftConfig({ ...c, model, ...identity, progress: c.progress ?? false }, label) };
  return { kind: 'train', config: validateTrainConfig({ ...c, model, ...identity }, label) };
}
