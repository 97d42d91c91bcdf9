/**
 * `grpo tfgrpo` config. Defaults follow youtu-agent's configs/practice/math_reasoning.yaml
 * (epochs 1, batch_size 50, grpo_n 5, rollout_temperature 0.7, num_experiences_per_query 1).
 */
import { z } from 'zod';
import { modelEndpointSchema, taskSchema } from '../common/config.ts';
import { defineConfig, overwriteField, pluginsField, runSectionFields, seedField } from '../../config/index.ts';
import { checkTemplate } from '../common/template.ts';

export const tfgrpoConfigSchema = z.strictObject({
  plugins: pluginsField,
  task: taskSchema.prefault({}).describe('data splits, fields and metric'),
  task_model: modelEndpointSchema.prefault({}).describe('the frozen model that answers (rollouts and evaluation)'),
  critic_model: modelEndpointSchema
    .nullable()
    .default(null)
    .describe('the model that summarises, critiques and edits the library; null = task_model'),
  system_prompt: z
    .string()
    .default('You are a careful problem solver. Reason step by step, then give the final answer in \\boxed{}.')
    .describe("the task model's instructions; the experience library is appended to them"),
  user_template: z.string().default('{{input}}').describe('user turn; {{input}} is the example input'),
  agent_objective: z
    .string()
    .default('solve the given problems correctly')
    .describe("the task model's job, as told to the critic"),
  learning_objective: z
    .string()
    .default('general reasoning strategies and checks that lead to correct final answers on new problems')
    .describe('what the lessons should improve, as told to the critic'),
  epochs: z.number().int().min(1).default(1).describe('passes over the training split'),
  batch_size: z.number().int().min(1).default(50).describe('questions per step (one library update per step)'),
  grpo_n: z.number().int().min(2).default(5).describe('answers sampled per question (the group size)'),
  rollout_temperature: z.number().min(0).default(0.7).describe('sampling temperature for training rollouts'),
  num_experiences_per_query: z.number().int().min(1).default(1).describe('lessons the critic may draw from one group'),
  given_ground_truth: z
    .boolean()
    .default(true)
    .describe('show the critic gold answers and scores, and learn only from mixed groups (0 < mean < 1)'),
  critic_temperature: z
    .number()
    .min(0)
    .default(0)
    .describe('critic sampling temperature (0 = deterministic, cacheable)'),
  batch_update_attempts: z
    .number()
    .int()
    .min(1)
    .default(3)
    .describe('tries at a parsable batch-update answer before leaving the library unchanged'),
  shuffle: z.boolean().default(true).describe('shuffle the training split each epoch (seeded)'),
  eval_before: z.boolean().default(true).describe('score the held-out split (task.test) with the starting library'),
  eval_after: z.boolean().default(true).describe('score the held-out split with the learned library'),
  eval_n: z.number().int().min(1).default(1).describe('answers sampled per held-out question'),
  eval_temperature: z.number().min(0).default(0).describe('sampling temperature for held-out evaluation'),
  initial_library: z
    .string()
    .nullable()
    .default(null)
    .describe('start from a saved library (library.json); null = empty'),
  seed: seedField('shuffling and per-request sampling seeds'),
  send_seed: z
    .boolean()
    .default(true)
    .describe(
      'send a per-request seed to the server, making rollouts reproducible and cacheable where it honours seeds',
    ),
  ...runSectionFields('tfgrpo', 'library.json, library_step<k>.json, metrics.jsonl, result.json'),
  overwrite: overwriteField,
});

export type TfGrpoConfig = z.infer<typeof tfgrpoConfigSchema>;
export type TfGrpoConfigInput = z.input<typeof tfgrpoConfigSchema>;

export const tfgrpoConfig = defineConfig({
  command: 'tfgrpo',
  schema: tfgrpoConfigSchema,
  check: (c, label) => checkTemplate(c.user_template, ['input'], `${label}: user_template`),
});

export function parseTfGrpoConfig(raw: unknown, label = 'tfgrpo config'): TfGrpoConfig {
  return tfgrpoConfig.parse(raw, label);
}
