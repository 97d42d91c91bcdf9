/**
 * LoRA adapters as PEFT folders: adapter_config.json + adapter_model.safetensors with PEFT's saved tensor names
 * (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight, …), which transformers/PEFT
 * (`PeftModel.from_pretrained`) and vLLM (`--enable-lora`, `/v1/load_lora_adapter`) load unchanged.
 * Only plain LoRA on the seven Llama projections is read: DoRA, per-module rank/alpha patterns, biases and
 * modules_to_save are refused with a clear error rather than silently mis-loaded.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/** adapter_config.json read and checked: the LoRA options and the recorded base (no tensors read). */
export function readPeftAdapterConfig(dir: string): Omit<PeftAdapter, 'tensors'> {
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
  return {
    options: {
      r: Number(c.r),
      alpha: Number(c.lora_alpha),
      dropout: Number(c.lora_dropout ?? 0),
      targetModules: targets as string[],
      useRslora: !!c.use_rslora,
    },
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined,
  };
}

export function readPeftAdapter(dir: string): PeftAdapter {
  const config = readPeftAdapterConfig(dir);
  const weights = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weights))
    throw new GrpoError(
      'io',
      `${dir}: ${ADAPTER_WEIGHTS} is missing (PEFT .bin adapters are not read: re-save with safe_serialization=True)`,
    );
  const tensors = readSafetensors(weights);
  for (const [name, t] of tensors) checkFinite(weights, name, t.data);
  return { ...config, tensors };
}

/**
 * A NaN or infinity in an adapter (a run that diverged, a damaged file) would make every logit NaN: the model
 * then samples token 0 forever and a merge writes a NaN model, both silently. Refused when the adapter is read.
 */
function checkFinite(file: string, name: string, data: Float32Array): void {
  let bad = 0,
    first = -1;
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i])) {
      bad++;
      if (first < 0) first = i;
    }
  if (bad === 0) return;
  throw new GrpoError(
    'adapter',
    `${file}: tensor '${name}' holds ${bad} non-finite value${bad > 1 ? 's' : ''} (${data[first]} at index ${first}) of ${data.length}; the adapter is damaged or its training diverged — use an earlier checkpoint or retrain`,
  );
}

/**
 * Whether an adapter's recorded base (adapter_config.json's base_model_name_or_path) names `modelPath`: the same
 * folder or file, or, for a hub name such as Qwen/Qwen2.5-0.5B-Instruct, a folder of that name. Unknown (no
 * recorded base) counts as the same.
 */
export function adapterBaseMatches(recorded: string | undefined, modelPath: string): boolean {
  if (!recorded) return true;
  const real = (p: string) => {
    try {
      return realpathSync(resolve(p));
    } catch {
      return null;
    }
  };
  const here = real(modelPath) ?? resolve(modelPath);
  const there = real(recorded);
  if (there !== null) return there === here;
  const last = (p: string) =>
    p
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop();
  return last(recorded) === last(here);
}
