/**
 * HICRA (arXiv 2509.03646; docs/methods/hicra.md): advantages of planning tokens — those inside a strategic n-gram
 * such as "let me check" — amplified by α|A|, after the advantage estimator.
 */
import { z } from 'zod';
import { hicraAdvantages, planningTokenMasks } from '../../algorithms/index.ts';
import { registerBatchTransform } from './registry.ts';

/** Strategic n-grams marking planning tokens (HICRA, arXiv 2509.03646 examples); override with hicra_grams. */
export const DEFAULT_STRATEGIC_GRAMS = [
  "let's try a different approach",
  'let me check',
  'wait',
  'alternatively',
  'on second thought',
  'let me verify',
  'but wait',
  'let me reconsider',
  'the key idea is',
  'first, we need to',
];

registerBatchTransform({
  name: 'hicra',
  description: 'HICRA: advantages of planning tokens amplified by α|A|',
  options: z.object({
    hicra_alpha: z.number().nonnegative().default(0).describe('HICRA: amplification α of planning tokens (0: off)'),
    hicra_grams: z
      .array(z.string())
      .default(DEFAULT_STRATEGIC_GRAMS)
      .describe('HICRA: strategic n-grams marking planning tokens'),
  }),
  active: (o) => o.hicra_alpha > 0,
  advantages: (advantages, tokenTexts, o) =>
    hicraAdvantages(advantages, planningTokenMasks(tokenTexts(), o.hicra_grams), o.hicra_alpha),
});
