/**
 * The float type a model file stores its weights in, read from the headers alone: what `grpo merge` writes by
 * default, as PEFT's merge_and_unload keeps the base's dtype. One type for the whole model: the type every weight
 * shares, or F32 where they differ or are quantized (Q8_0 blocks are exact in F32, not in a 16-bit type). In a
 * GGUF the 1-D norms and biases are F32 whatever the matrices are (llama.cpp needs them so), so only its
 * matrices count.
 */
import { readGgufFile, GgmlType } from './gguf-format.ts';
import { safetensorsFilesIn } from './hf-folder.ts';
import { modelFormatOf } from './load-model.ts';
import { readSafetensorsHeader } from './safetensors.ts';

export type StoredDtype = 'F32' | 'F16' | 'BF16';

const ggmlTypes: Partial<Record<number, StoredDtype>> = {
  [GgmlType.F32]: 'F32',
  [GgmlType.F16]: 'F16',
  [GgmlType.BF16]: 'BF16',
};

export function storedWeightDtype(path: string): StoredDtype {
  const format = modelFormatOf(path);
  const types = new Set<string>();
  if (format === 'hf') {
    for (const file of safetensorsFilesIn(path))
      for (const e of readSafetensorsHeader(file).entries.values()) types.add(e.dtype);
  } else if (format === 'gguf') {
    for (const t of readGgufFile(path).tensors) if (t.ne.length >= 2) types.add(ggmlTypes[t.type] ?? 'quantized');
  } else return 'F32'; // llama2.c checkpoints are float32
  const [only] = types;
  return types.size === 1 && (only === 'F16' || only === 'BF16') ? only : 'F32';
}
