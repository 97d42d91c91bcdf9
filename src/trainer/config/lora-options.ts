/** The config's `model.lora` (PEFT's snake_case names) as the model's LoRA options. */
import type { LoraSection } from '../../config/sections.ts';
import type { LoraOptions } from '../../model/lora.ts';

export function loraOptions(c: LoraSection): LoraOptions {
  return { r: c.r, alpha: c.alpha, dropout: c.dropout, targetModules: c.target_modules, useRslora: c.use_rslora };
}
