export {
  StreamDecoder,
  type Tokenizer,
  type ChatMessage,
  type EncodeOptions,
  type DecodeOptions,
  type ChatTemplateOptions,
} from './tokenizer.ts';
export { loadTokenizer, loadTokenizerForModel, loadByteLevelBpeFiles } from './load-tokenizer.ts';
export { HfTokenizer, loadHfTokenizerFolder, type HfTokenizerFiles } from './hf-tokenizer.ts';
export { SentencePieceBpeTokenizer, TokenType, type SentencePieceVocab } from './sentencepiece-bpe.ts';
export { loadLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c-tokenizer.ts';
export { loadGgufTokenizer, tokenizerFromGguf } from './gguf-tokenizer.ts';
export { ChatTemplate, pickChatTemplate } from './chat-template.ts';
export { byteLevelBpeTokenizerJson, parseMergesText, supportedBytePreTokenizers } from './byte-level-bpe-json.ts';
export { hfTokenizerFilesFor } from './hf-export.ts';
