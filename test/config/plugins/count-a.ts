// A plugin as a YAML config names it (plugins: [./count-a.ts]): importing it registers a reward type.
import { z } from 'zod';
import { registerReward } from 'grpo-ts';

registerReward({
  name: 'count_a',
  description: "share of the completion's characters that are the letter a",
  options: z.object({ letter: z.string().length(1).default('a') }),
  build: (o) => ({
    fn: (completion) => [...completion].filter((c) => c === o.letter).length / Math.max(1, completion.length),
  }),
});
