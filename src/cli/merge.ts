/**
 * `grpo merge --model BASE --adapter DIR --out DIR [--gguf FILE] [--dtype D]`: a PEFT LoRA adapter merged into its
 * base (src/pipeline/merge-adapter.ts), written as a Hugging Face folder and optionally a GGUF, in the base's dtype.
 */
import type { Command } from 'commander';
import { runMerge, type MergeOptions } from '../pipeline/merge-adapter.ts';

const int = (v: string) => parseInt(v, 10);

export function registerMergeCommand(program: Command): Command {
  return program
    .command('merge')
    .description('merge a PEFT LoRA adapter into its base model: a Hugging Face folder (and optionally a GGUF)')
    .requiredOption('--model <path>', 'the base model (Hugging Face folder, .gguf, llama2.c .bin, or "embedded")')
    .requiredOption('--adapter <dir>', 'the PEFT adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'folder for the merged model')
    .option('--gguf <file>', 'also write the merged model as a GGUF (in --dtype) with its tokenizer')
    .option(
      '--dtype <d>',
      "dtype of the merged weights: f32, bf16 or f16 (default: the base's, as PEFT's merge_and_unload; W + s·B·A is computed in f32 and rounded once to it)",
    )
    .option('--tokenizer <path>', 'tokenizer path (default: found with the model)')
    .option('--threads <n>', 'compute threads (default: one per core)', int)
    .action((opts) => runMerge(opts as MergeOptions));
}
