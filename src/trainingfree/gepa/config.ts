/**
 * `grpo gepa` config. Defaults follow gepa-ai/gepa `optimize()` (src/gepa/api.py): reflection minibatch 3,
 * Pareto selection, round-robin components, strict improvement, skip_perfect_score with perfect score 1,
 * merge off with 5 invocations max. gepa has no default budget; 100 metric calls follows ax (TS port).
 */
import { z } from 'zod';
import { GrpoError } from '../../errors.ts';
import { modelEndpointSchema, taskSchema } from '../common/config.ts';
import { defineConfig, overwriteField, pluginsField, runSectionFields, seedField } from '../../config/index.ts';
import { checkTemplate } from '../common/template.ts';
import { checkReflectionTemplate } from './instruction-proposal.ts';

export const gepaProgramSchema = z.strictObject({
  components: z
    .record(z.string(), z.string())
    .default({ instructions: 'Solve the problem. Reason step by step, then give the final answer in \\boxed{}.' })
    .describe('the seed program: named text components GEPA evolves'),
  system_template: z
    .string()
    .nullable()
    .default(null)
    .describe('system prompt with {{<component>}} placeholders; null = the components joined by blank lines'),
  user_template: z.string().default('{{input}}').describe('user turn; {{input}} and {{<component>}} placeholders'),
});

export const gepaConfigSchema = z.strictObject({
  plugins: pluginsField,
  task: taskSchema
    .prefault({})
    .describe('data splits, fields and metric (val = the Pareto set; test = held-out before/after)'),
  task_model: modelEndpointSchema.prefault({}).describe('the model that runs the program'),
  reflection_model: modelEndpointSchema
    .nullable()
    .default(null)
    .describe('the model that rewrites components; null = task_model'),
  program: gepaProgramSchema.prefault({}).describe('the seed program and how it becomes a prompt'),
  max_metric_calls: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('budget: (program, example) evaluations, seed and acceptance evaluations included'),
  max_iterations: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe('stop after this many iterations; null = budget only'),
  reflection_minibatch_size: z.number().int().min(1).default(3).describe('training examples per reflection'),
  candidate_selection: z
    .enum(['pareto', 'current_best', 'epsilon_greedy'])
    .default('pareto')
    .describe('how the parent is chosen'),
  epsilon: z.number().min(0).max(1).default(0.1).describe('exploration rate for epsilon_greedy'),
  module_selector: z
    .enum(['round_robin', 'all'])
    .default('round_robin')
    .describe('which components one reflection rewrites'),
  acceptance: z
    .enum(['strict_improvement', 'improvement_or_equal'])
    .default('strict_improvement')
    .describe('minibatch test a child must pass'),
  skip_perfect_score: z
    .boolean()
    .default(true)
    .describe('skip reflection when the parent is perfect on the whole minibatch'),
  perfect_score: z.number().default(1).describe('the score counted as perfect'),
  use_merge: z.boolean().default(false).describe('also merge complementary lineages'),
  max_merge_invocations: z.number().int().min(0).default(5).describe('merges that may be accepted in a run'),
  merge_subsample_size: z
    .number()
    .int()
    .min(1)
    .default(5)
    .describe('validation examples a merged program is tested on first'),
  reflection_prompt_template: z
    .string()
    .nullable()
    .default(null)
    .describe('custom reflection prompt with <curr_instructions> and <inputs_outputs_feedback>; null = built-in'),
  task_temperature: z
    .number()
    .min(0)
    .default(0)
    .describe('task model temperature (0 = deterministic, cacheable scores)'),
  reflection_temperature: z.number().min(0).default(1).describe('reflection model temperature'),
  eval_test: z
    .boolean()
    .default(true)
    .describe('score the seed and the best program on task.test at the end (outside the budget)'),
  seed: seedField('parent selection, minibatches and merges'),
  resume: z.boolean().default(true).describe('continue from <out_dir>/<name>/gepa_state.json when present'),
  ...runSectionFields('gepa', 'gepa_state.json, metrics.jsonl, best_program.json, result.json'),
  overwrite: overwriteField,
});

export type GepaConfig = z.infer<typeof gepaConfigSchema>;
export type GepaConfigInput = z.input<typeof gepaConfigSchema>;

function checkGepaConfig(c: GepaConfig, label: string): void {
  const names = Object.keys(c.program.components);
  if (names.length === 0)
    throw new GrpoError('config', `${label}: program.components is empty; give at least one named text`);
  if (names.includes('input'))
    throw new GrpoError(
      'config',
      `${label}: program.components may not be named 'input' (it is the example placeholder)`,
    );
  if (c.program.system_template !== null)
    checkTemplate(c.program.system_template, names, `${label}: program.system_template`);
  checkTemplate(c.program.user_template, ['input', ...names], `${label}: program.user_template`);
  if (c.reflection_prompt_template !== null)
    checkReflectionTemplate(c.reflection_prompt_template, `${label}: reflection_prompt_template`);
}

export const gepaConfig = defineConfig({ command: 'gepa', schema: gepaConfigSchema, check: checkGepaConfig });

export function parseGepaConfig(raw: unknown, label = 'gepa config'): GepaConfig {
  return gepaConfig.parse(raw, label);
}
