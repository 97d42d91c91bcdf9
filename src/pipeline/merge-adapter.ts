/**
 * A PEFT LoRA adapter merged into its base (W + s·B·A, as PEFT's merge_and_unload), written as a Hugging Face
 * folder (and optionally a GGUF with the tokenizer, for llama.cpp): what `grpo merge` runs, and what the pipeline
 * does after a LoRA stage. The base is opened in f32, so the merge is computed exactly; it is written in the base's
 * own dtype unless `dtype` says otherwise (as merge_and_unload keeps it), so weights the adapter does not touch are
 * copied bit for bit. Tensors stream to disk one at a time.
 */
import { openModel } from '../model/open-model.ts';
import { mergedWeights } from '../model/merge-adapter.ts';
import { writeHfModel, writeGgufModel } from '../model/io/index.ts';
import { adapterBaseMatches, readPeftAdapterConfig } from '../model/io/peft-adapter.ts';
import { storedWeightDtype, type StoredDtype } from '../model/io/stored-dtype.ts';
import { ggufVocabFor } from '../model/tokenizer/gguf-export.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { GrpoError } from '../errors.ts';
import { prepareOutputFile } from '../util/output-path.ts';
import { MergeResolution } from './merge-resolution.ts';

export type MergeDtype = 'f32' | 'bf16' | 'f16';
const DTYPES: Record<MergeDtype, StoredDtype> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

export interface MergeOptions {
  model: string;
  adapter: string;
  out: string;
  gguf?: string;
  /** dtype of the merged weights, in the folder and the GGUF (default: the base's own) */
  dtype?: MergeDtype;
  tokenizer?: string;
  threads?: number;
}

/**
 * Merge `o.adapter` into `o.model` and write `o.out` (and `o.gguf`); `print` gets a line per file written, `warn`
 * a line for an adapter recorded against another base and for an adapter the output dtype rounds away.
 */
export function runMerge(
  o: MergeOptions,
  print: (line: string) => void = console.log,
  warn: (line: string) => void = console.warn,
): void {
  if (o.dtype !== undefined && !(o.dtype in DTYPES))
    throw new GrpoError('config', `--dtype must be f32, bf16 or f16, got '${o.dtype}'`);
  prepareOutputFile(o.out, 'the merged model (--out)');
  if (o.gguf) prepareOutputFile(o.gguf, 'the GGUF (--gguf)');
  const modelPath = resolveModelPath(o.model);
  const baseDtype = storedWeightDtype(modelPath);
  const dtype = o.dtype ? DTYPES[o.dtype] : baseDtype;
  const { baseModel } = readPeftAdapterConfig(o.adapter);
  if (!adapterBaseMatches(baseModel, modelPath))
    warn(
      `warning: the adapter ${o.adapter} was trained on '${baseModel}' (base_model_name_or_path in its adapter_config.json), not on ${o.model}; merging it into another base with the same shapes gives a model that is neither`,
    );
  const { model, tokenizer } = openModel(modelPath, {
    adapter: o.adapter,
    basePrecision: 'f32',
    tokenizer: o.tokenizer,
    threads: o.threads,
    precision: 'f32',
  });
  try {
    const resolution = new MergeResolution(dtype);
    writeHfModel(
      o.out,
      { config: model.config, weights: mergedWeights(model, (_, base, merged) => resolution.add(base, merged)) },
      { tokenizer, dtype },
    );
    print(`merged ${model.lora!.byName.size / 2} adapted matrices into ${o.out} (${dtype})`);
    const warning = resolution.warning(baseDtype);
    if (warning) warn(warning);
    if (o.gguf) {
      writeGgufModel(
        o.gguf,
        { config: model.config, weights: mergedWeights(model) },
        { vocab: ggufVocabFor(tokenizer, model.config.vocabSize), dtype },
      );
      print(`wrote ${o.gguf}`);
    }
  } finally {
    model.free();
  }
}
