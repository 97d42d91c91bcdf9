/**
 * DAPO's dynamic sampling (Eq. 11; docs/methods/dapo.md): a group whose completions are all right or all wrong has
 * zero advantage everywhere, so it is dropped and more prompts are generated, up to max_gen_batches batches a step
 * (verl filter_groups). It filters on correctness (verl metric acc), or on the summed reward when asked.
 */
import { z } from 'zod';
import { dynamicSamplingKeep } from '../../algorithms/index.ts';
import { isCorrect } from '../rollouts.ts';
import { registerBatchTransform } from './registry.ts';

registerBatchTransform({
  name: 'dynamic_sampling',
  description:
    'DAPO: drop groups whose completions are all equally correct and generate more, up to max_gen_batches a step',
  options: z.object({
    dynamic_sampling: z
      .boolean()
      .default(false)
      .describe('DAPO: drop groups whose completions are all equally correct and refill'),
    dynamic_sampling_metric: z
      .enum(['accuracy', 'reward'])
      .default('accuracy')
      .describe('dynamic sampling: filter on correctness (DAPO Eq. 11, verl metric acc) or on the summed reward'),
    max_gen_batches: z
      .number()
      .int()
      .positive()
      .default(4)
      .describe('dynamic sampling: generation batches per step at most'),
  }),
  active: (o) => o.dynamic_sampling,
  needsCorrectness: (o) =>
    o.dynamic_sampling_metric === 'accuracy'
      ? 'set algorithm.dynamic_sampling_metric: reward to filter on the summed reward'
      : undefined,
  keepGroups: (groups, o, run) => {
    const value =
      o.dynamic_sampling_metric === 'reward'
        ? (r: { reward: number }) => r.reward
        : (r: Parameters<typeof isCorrect>[0]) => (isCorrect(r, run.correctness) ? 1 : 0);
    return dynamicSamplingKeep(
      groups.flat().map(value),
      groups.map((g) => g.length),
    );
  },
  generationBatches: (o) => o.max_gen_batches,
});
