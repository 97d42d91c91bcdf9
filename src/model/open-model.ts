/**
 * Open a model path for use: weights (HF folder, .gguf or llama2.c .bin) on the ggml backend, and its tokenizer
 * (given explicitly, or found with the model); with `adapter`, a PEFT LoRA folder applied on top without merging.
 */
import { loadModelWeights } from './io/index.ts';
import { readPeftAdapter } from './io/peft-adapter.ts';
import { loadTokenizer, loadTokenizerForModel, type Tokenizer } from './tokenizer/index.ts';
import { LlamaModel, type ModelOptions } from './llama-model.ts';

export interface OpenedModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
}

export interface OpenOptions extends ModelOptions {
  /** a tokenizer path, or one already loaded (default: found with the model) */
  tokenizer?: string | Tokenizer;
  /** a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to apply */
  adapter?: string;
}

export function openModel(path: string, opts: OpenOptions = {}): OpenedModel {
  const { config, weights } = loadModelWeights(path);
  const tokenizer =
    typeof opts.tokenizer === 'object'
      ? opts.tokenizer
      : opts.tokenizer
        ? loadTokenizer(opts.tokenizer)
        : loadTokenizerForModel(path, config.vocabSize);
  const adapter = opts.adapter ? readPeftAdapter(opts.adapter) : null;
  // ids the tokenizer knows as end-of-sequence count too (chat models stop at <|im_end|> as well as <|endoftext|>)
  const eos = [...new Set([...(config.eosTokenIds ?? []), ...tokenizer.eosIds])];
  const model = new LlamaModel(
    { ...config, eosTokenIds: eos, bosTokenId: config.bosTokenId ?? tokenizer.bosId ?? undefined },
    { ...opts, weights, lora: adapter?.options ?? opts.lora },
  );
  try {
    if (adapter) model.lora!.load(adapter.tensors);
  } catch (e) {
    model.free();
    throw e;
  }
  return { model, tokenizer };
}
