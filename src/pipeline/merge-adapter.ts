/**
 * A PEFT LoRA adapter merged into its base (W + s·B·A, as PEFT's merge_and_unload), written as a Hugging Face
 * folder (and optionally a GGUF with the tokenizer, for llama.cpp): what `grpo merge` runs, and what the pipeline
 * does after a LoRA stage. The base is opened in f32, so the merge is exact; tensors stream to disk one at a time.
 */
import { openModel } from '../model/open-model.ts';
import { mergedWeights } from '../model/merge-adapter.ts';
import { writeHfModel, writeGgufModel } from '../model/io/index.ts';
import { ggufVocabFor } from '../model/tokenizer/gguf-export.ts';
import { GrpoError } from '../errors.ts';
import { prepareOutputFile } from '../util/output-path.ts';

export interface MergeOptions {
  model: string;
  adapter: string;
  out: string;
  gguf?: string;
  /** safetensors dtype of the merged folder (default bf16, as checkpoints are published) */
  dtype?: 'f32' | 'bf16';
  tokenizer?: string;
  threads?: number;
}

/** Merge `o.adapter` into `o.model` and write `o.out` (and `o.gguf`); `print` gets a line per file written. */
export function runMerge(o: MergeOptions, print: (line: string) => void = console.log): void {
  if (o.dtype && o.dtype !== 'f32' && o.dtype !== 'bf16')
    throw new GrpoError('config', `--dtype must be f32 or bf16, got '${o.dtype}'`);
  prepareOutputFile(o.out, 'the merged model (--out)');
  if (o.gguf) prepareOutputFile(o.gguf, 'the GGUF (--gguf)');
  const { model, tokenizer } = openModel(o.model, {
    adapter: o.adapter,
    basePrecision: 'f32',
    tokenizer: o.tokenizer,
    threads: o.threads,
    precision: 'f32',
  });
  try {
    writeHfModel(
      o.out,
      { config: model.config, weights: mergedWeights(model) },
      { tokenizer, dtype: o.dtype === 'f32' ? 'F32' : 'BF16' },
    );
    print(`merged ${model.lora!.byName.size / 2} adapted matrices into ${o.out}`);
    if (o.gguf) {
      writeGgufModel(
        o.gguf,
        { config: model.config, weights: mergedWeights(model) },
        { vocab: ggufVocabFor(tokenizer, model.config.vocabSize), dtype: 'F16' },
      );
      print(`wrote ${o.gguf}`);
    }
  } finally {
    model.free();
  }
}
