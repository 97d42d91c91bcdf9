/** The config's `model.lora` (PEFT's snake_case names) as the engine's LoRA options. */
import type { z } from 'zod';
import type { loraSchema } from './schema.ts';
import type { LoraOptions } from '../../model/lora.ts';

export function loraOptions(c: z.infer<typeof loraSchema>): LoraOptions {
  return { r: c.r, alpha: c.alpha, dropout: c.dropout, targetModules: c.target_modules, useRslora: c.use_rslora };
}
