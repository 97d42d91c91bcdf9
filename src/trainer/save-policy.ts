/**
 * The trained policy on disk, streamed tensor by tensor: with LoRA a PEFT adapter folder (adapter_config.json,
 * adapter_model.safetensors and the tokenizer: what vLLM's --enable-lora and PEFT load), otherwise a Hugging Face
 * model folder (config, model.safetensors, tokenizer). Written atomically.
 */
import { writeHfModel, writeTokenizerFiles } from '../model/io/hf-folder.ts';
import { writePeftAdapter } from '../model/io/peft-adapter.ts';
import { VALUE_HEAD } from '../model/llama-weights.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';

export function savePolicy(
  dir: string,
  model: LlamaModel,
  tokenizer: Tokenizer,
  opts: { baseModel?: string; dtype?: 'F32' | 'BF16' } = {},
): void {
  // the cached graphs' activations make room for the tensors being streamed out
  model.releaseGraphs();
  if (model.lora) {
    writePeftAdapter(dir, model.lora, {
      baseModel: opts.baseModel,
      extra: (tmp) => writeTokenizerFiles(tmp, tokenizer),
    });
    return;
  }
  const weights = model.weights.streamed();
  weights.delete(VALUE_HEAD);
  writeHfModel(dir, { config: model.config, weights }, { tokenizer, dtype: opts.dtype ?? 'F32' });
}
