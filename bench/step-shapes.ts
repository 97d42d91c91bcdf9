/**
 * Preloaded into the real `grpo train` by bench:step (`node --import tsx --import bench/step-shapes.ts …`): registers
 * a reward type `bench_shapes` that scores 0 and appends, for every training completion, its prompt and its exact
 * token count to a JSONL file. metrics.jsonl only has the mean and the longest completion of a step, and re-tokenising
 * sampled text does not give back the sampled ids; this tells the PyTorch peer the very shapes grpo-ts trained on,
 * without touching src/. Scoring 0 (at any weight) leaves rewards and advantages as they were.
 *   rewards: [ …, { type: bench_shapes, weight: 0, options: { file: /tmp/…/shapes.jsonl } } ]
 */
import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { registerReward } from '../src/rewards/registry.ts';
import { completionTokenCount } from '../src/rewards/types.ts';

registerReward({
  name: 'bench_shapes',
  description: "bench:step: records each completion's prompt and token count; scores 0",
  options: z.object({ file: z.string() }),
  build: ({ file }) => ({
    fn: (_completion, sample) => {
      appendFileSync(
        file,
        JSON.stringify({
          prompt: sample.prompt,
          completion: completionTokenCount(sample),
          finish: sample.finish_reason,
        }) + '\n',
      );
      return 0;
    },
  }),
});
