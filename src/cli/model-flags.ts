/** Flags shared by the commands that open a model: threads, precision, a LoRA adapter and its base's storage. */
import type { Command } from 'commander';
import { checkPrecision, type PrecisionSetting } from '../model/weight-copies.ts';
import type { MatrixType } from '../model/llama-weights.ts';
import type { OpenOptions } from '../model/open-model.ts';
import { GrpoError } from '../errors.ts';
import { DEVICE_HELP } from '../engine/device-setting.ts';

export interface ModelFlags {
  tokenizer?: string;
  threads?: number;
  device?: string;
  precision?: PrecisionSetting;
  adapter?: string;
  basePrecision?: MatrixType;
}

const int = (v: string) => parseInt(v, 10);

function basePrecisionFlag(v: string): MatrixType {
  if (v !== 'f32' && v !== 'bf16' && v !== 'q8_0')
    throw new GrpoError('config', `--base-precision must be f32, bf16 or q8_0, got '${v}'`);
  return v;
}

export function addModelFlags(cmd: Command): Command {
  return cmd
    .option('--tokenizer <path>', 'tokenizer path (default: found with the model)')
    .option('--threads <n>', 'compute threads (default: one per core)', int)
    .option('--device <d>', DEVICE_HELP)
    .option(
      '--precision <p>',
      'matmul precision: f32 (exact), bf16 (BF16 copies of the weights feed the products), or auto (bf16 where this CPU has vector BF16: AVX2 / AVX-512)',
      (v) => checkPrecision(v, '--precision'),
      'auto',
    )
    .option('--adapter <dir>', 'a PEFT LoRA adapter folder to apply on top of the model (not merged)')
    .option(
      '--base-precision <p>',
      'with --adapter: how the frozen base is held: bf16 (default), f32 or q8_0',
      basePrecisionFlag,
    );
}

export function modelOptions(f: ModelFlags): OpenOptions {
  return {
    tokenizer: f.tokenizer,
    threads: f.threads,
    device: f.device,
    precision: f.precision,
    adapter: f.adapter,
    basePrecision: f.adapter ? f.basePrecision : undefined,
  };
}
