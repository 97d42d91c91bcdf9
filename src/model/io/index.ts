export type { LoadedModel } from './loaded-model.ts';
export { loadModelWeights, modelConfigOf, modelFormatOf, type ModelFormat } from './load-model.ts';
export {
  readHfModel,
  writeHfModel,
  hfTokenizerFiles,
  safetensorsFilesIn,
  type WriteHfModelOptions,
} from './hf-folder.ts';
export { llamaConfigFromHf, hfConfigFromLlama, hfArchitectureFor, supportedHfArchitectures } from './hf-config.ts';
export { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsWriteDtype } from './safetensors.ts';
export { readGgufModel, hfNameForGguf, supportedGgufArchitectures } from './gguf-model.ts';
export {
  readGgufFile,
  readGgufTensor,
  GgufType,
  GgmlType,
  type GgufFile,
  type GgufEntry,
  type GgufValue,
  type GgufTensorInfo,
} from './gguf-format.ts';
export {
  writeGguf,
  writeGgufModel,
  ggufVocabMetadata,
  type GgufVocab,
  type WriteGgufModelOptions,
} from './gguf-writer.ts';
export { readLlama2cModel } from './llama2c-model.ts';
export { interleavedToHalf, halfToInterleaved } from './rope-permute.ts';
export { expectedWeightShapes, checkWeights } from './weight-names.ts';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './float-convert.ts';
