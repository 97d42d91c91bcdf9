/**
 * LoRA adapters as PEFT folders: adapter_config.json + adapter_model.safetensors with PEFT's saved tensor names
 * (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight, …), which transformers/PEFT
 * (`PeftModel.from_pretrained`) and vLLM (`--enable-lora`, `/v1/load_lora_adapter`) load unchanged.
 * Only plain LoRA on the seven Llama projections is read: DoRA, per-module rank/alpha patterns, biases and
 * modules_to_save are refused with a clear error rather than silently mis-loaded.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDirAtomic } from '../../util/atomic.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { LORA_TARGETS, type LoraAdapters, type LoraOptions } from '../lora.ts';
import type { WeightMap } from '../host-tensor.ts';
import { GrpoError } from '../../errors.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export interface PeftAdapter {
  options: LoraOptions;
  tensors: WeightMap;
  /** adapter_config.json's base_model_name_or_path, if any */
  baseModel?: string;
}

/** PEFT's LoraConfig fields for plain LoRA (the defaults PEFT itself writes for what grpo-ts does not use). */
export function peftConfig(lora: LoraAdapters, baseModel?: string): Record<string, unknown> {
  const s = lora.settings;
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel ?? null,
    revision: null,
    r: s.r,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    target_modules: s.targetModules,
    use_rslora: s.useRslora,
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
  };
}

/** Write `lora` as a PEFT folder (atomically); `extra` files (tokenizer, value head) go beside it. */
export function writePeftAdapter(
  dir: string,
  lora: LoraAdapters,
  opts: { baseModel?: string; extra?: (tmp: string) => void } = {},
): void {
  writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, ADAPTER_CONFIG), JSON.stringify(peftConfig(lora, opts.baseModel), null, 2) + '\n');
    writeSafetensors(join(tmp, ADAPTER_WEIGHTS), lora.save());
    opts.extra?.(tmp);
  });
}

export function isPeftAdapter(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG));
}

export function readPeftAdapter(dir: string): PeftAdapter {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configPath))
    throw new GrpoError('io', `${dir} is not a PEFT adapter folder: ${ADAPTER_CONFIG} is missing`);
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new GrpoError('io', `cannot read ${configPath}: ${(e as Error).message}`);
  }
  const refuse = (why: string) => {
    throw new GrpoError(
      'io',
      `${configPath}: ${why}; grpo-ts loads plain LoRA adapters on the Llama-family projections`,
    );
  };
  if (c.peft_type !== 'LORA') refuse(`peft_type is ${String(c.peft_type)}, not LORA`);
  if (c.use_dora) refuse('use_dora is true (DoRA)');
  if (c.bias !== undefined && c.bias !== 'none') refuse(`bias is '${String(c.bias)}'`);
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length)
    refuse(`modules_to_save lists ${c.modules_to_save.join(', ')}`);
  for (const k of ['rank_pattern', 'alpha_pattern'])
    if (c[k] && Object.keys(c[k] as object).length) refuse(`${k} is not empty`);
  if (c.layers_to_transform !== undefined && c.layers_to_transform !== null) refuse('layers_to_transform is set');
  if (c.fan_in_fan_out) refuse('fan_in_fan_out is true');
  let targets = c.target_modules;
  // a string is a regex PEFT full-matches against module paths such as model.layers.0.self_attn.q_proj
  if (typeof targets === 'string') {
    const re = new RegExp(`^(?:${targets})$`);
    targets = LORA_TARGETS.filter(
      (m) =>
        re.test(
          `model.layers.0.${m.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(m) ? 'mlp' : 'self_attn'}.${m}`,
        ) || re.test(m),
    );
  }
  if (!Array.isArray(targets) || targets.length === 0) refuse('target_modules names no Llama projection');
  const weights = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weights))
    throw new GrpoError(
      'io',
      `${dir}: ${ADAPTER_WEIGHTS} is missing (PEFT .bin adapters are not read: re-save with safe_serialization=True)`,
    );
  return {
    options: {
      r: Number(c.r),
      alpha: Number(c.lora_alpha),
      dropout: Number(c.lora_dropout ?? 0),
      targetModules: targets as string[],
      useRslora: !!c.use_rslora,
    },
    tensors: readSafetensors(weights),
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined,
  };
}
