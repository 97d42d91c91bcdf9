/**
 * Batch transforms: what a step does to its rollouts between the rewards and the update, beside the methods —
 * DAPO's dynamic sampling and soft overlong punishment, GFPO's filter, ORZ's require-stop, HICRA's planning-token
 * amplification. Each is one registered object, as a method is: a name, a zod schema of its options (flat keys
 * of the `algorithm` section, with the paper's defaults) and the hooks it acts through. A user adds one from
 * TypeScript with `registerBatchTransform` and names it in `algorithm.transforms`; a built-in one is also on when
 * its knob asks for it (`dynamic_sampling: true`, `gfpo_keep: 4`, …), so presets and configs read as before.
 * Hooks run in registration order.
 */
import type { z } from 'zod';
import { Registry, type OptionsSchema, type Ragged } from '../../algorithms/index.ts';
import { GrpoError } from '../../errors.ts';
import type { Rollout } from '../rollouts.ts';
import { sharedAlgorithmSchema } from '../config/algorithm-schema.ts';

/** What a transform may know of the run. */
export interface TransformRun {
  groupSize: number;
  maxTokens: number;
  /** the method compares completions of one prompt (GRPO-like): a group must keep two */
  groupRelative: boolean;
  /** the reward that decides correctness (undefined when none does, and while the config is only being resolved) */
  correctness?: string;
}

export interface BatchTransform<S extends OptionsSchema = OptionsSchema> {
  name: string;
  /** one line for `grpo config` and errors */
  description: string;
  options: S;
  /** on for a run whose options ask for it (a built-in's knob); one named in algorithm.transforms is on whatever this says */
  active?: (options: z.infer<S>) => boolean;
  /** the options once the run is known (sentinels such as "20% of max_tokens"); throws a GrpoError for a run it cannot serve */
  resolve?: (options: z.infer<S>, run: TransformRun) => z.infer<S>;
  /**
   * it reads correctness with these options: returns how to do without it (the run refuses to start when no reward
   * decides correctness), or undefined when it does not read it — as a policy loss's needsCorrectness
   */
  needsCorrectness?: (options: z.infer<S>) => string | undefined;
  /** one completion after its rewards are combined: shape its reward (and per-reward scores) */
  shape?: (rollout: Rollout, options: z.infer<S>, run: TransformRun) => Rollout;
  /** which groups of a generation batch the step keeps; while fewer than prompts_per_step are kept, more are generated */
  keepGroups?: (groups: Rollout[][], options: z.infer<S>, run: TransformRun) => boolean[];
  /** generation batches per step at most while `keepGroups` drops groups */
  generationBatches?: (options: z.infer<S>) => number;
  /** the completions of each kept group that train (the metrics also log the sampled ones) */
  select?: (group: Rollout[], options: z.infer<S>, run: TransformRun) => Rollout[];
  /**
   * per-token advantages after the estimator, over the tokens the model sampled (`tokenTexts` decodes them);
   * returns new advantages
   */
  advantages?: (advantages: Ragged, tokenTexts: () => string[][], options: z.infer<S>) => Ragged;
}

export const batchTransforms = new Registry<BatchTransform>('batch transform');

/** Adds a transform; its option keys must be its own (no other transform's, no shared knob's). */
export function registerBatchTransform<S extends OptionsSchema>(t: BatchTransform<S>): BatchTransform<S> {
  const keys = Object.keys(t.options.shape);
  for (const other of batchTransforms.all()) {
    const clash = keys.find((k) => k in other.options.shape);
    if (clash)
      throw new GrpoError(
        'config',
        `batch transform '${t.name}': option '${clash}' is already an option of '${other.name}'; pick another key`,
      );
  }
  const reserved = keys.find((k) => k in sharedAlgorithmSchema.shape);
  if (reserved)
    throw new GrpoError(
      'config',
      `batch transform '${t.name}': option '${reserved}' is a shared algorithm knob; pick another key`,
    );
  return batchTransforms.add(t as unknown as BatchTransform) as unknown as BatchTransform<S>;
}

/** A transform a run applies, with its parsed and resolved options. */
export interface ActiveTransform {
  transform: BatchTransform;
  options: Record<string, unknown>;
}
