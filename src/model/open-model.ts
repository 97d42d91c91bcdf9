/**
 * Open a model path for use: weights (HF folder, .gguf or llama2.c .bin) on the ggml backend, and its tokenizer
 * (given explicitly, or found with the model); with `adapter`, a PEFT LoRA folder applied on top without merging.
 */
import { loadModelWeights } from './io/index.ts';
import { readPeftAdapter } from './io/peft-adapter.ts';
import { loadTokenizer, loadTokenizerForModel, type Tokenizer } from './tokenizer/index.ts';
import { LlamaModel, type ModelOptions } from './llama-model.ts';
import { GrpoError } from '../errors.ts';

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
  checkTokenizerFits(tokenizer, config.vocabSize, {
    model: path,
    tokenizer: typeof opts.tokenizer === 'string' ? opts.tokenizer : undefined,
  });
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

/**
 * A tokenizer belongs to a model when every id it produces has an embedding row. A model may have more rows than
 * its tokenizer has tokens (Qwen2.5 pads 151,665 tokens to 151,936 rows), never fewer: the ids past the rows
 * would read no embedding, and such a pair decodes nonsense without any error.
 */
export function checkTokenizerFits(
  tokenizer: Tokenizer,
  rows: number,
  where: { model: string; tokenizer?: string },
): void {
  const fix = where.tokenizer
    ? `it is not this model's tokenizer: pass the model's own (or leave --tokenizer / model.tokenizer unset to use the one saved with the model)`
    : 'the tokenizer saved with the model is not its own: replace it with the tokenizer the model was trained with, or pass that one with --tokenizer / model.tokenizer';
  const tok = where.tokenizer ? `the tokenizer ${where.tokenizer}` : 'its tokenizer';
  if (tokenizer.vocabSize > rows)
    throw new GrpoError(
      'tokenizer',
      `${tok} has ${tokenizer.vocabSize} tokens but the model ${where.model} has ${rows} embedding rows (vocab_size), so ids ${rows}…${tokenizer.vocabSize - 1} have no embedding; ${fix}`,
    );
  const special: [string, number | undefined][] = [
    ['bos', tokenizer.bosId],
    ...tokenizer.eosIds.map((id): [string, number] => ['eos', id]),
  ];
  const [name, id] = special.find(([, id]) => id !== undefined && id >= rows) ?? [];
  if (name !== undefined)
    throw new GrpoError(
      'tokenizer',
      `${tok}'s ${name} token id ${id} is past the model ${where.model}'s ${rows} embedding rows (vocab_size); ${fix}`,
    );
}
