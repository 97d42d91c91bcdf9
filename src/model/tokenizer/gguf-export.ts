/**
 * A tokenizer as GGUF vocabulary metadata, so a GGUF written by grpo-ts (`grpo merge --gguf`) carries its
 * tokenizer for llama.cpp. SentencePiece vocabularies export as they are; Hugging Face byte-level BPE
 * (tokenizer.json: Qwen, Llama 3, GPT-2) exports as llama.cpp's `gpt2` model the way convert_hf_to_gguf.py does it:
 * tokens by id (added tokens as control / user-defined, ids past the tokenizer up to the model's vocabulary as
 * unused [PAD…] entries), merges as "left right" strings, and the pre-tokenizer named from its split regex.
 */
import { HfTokenizer } from './hf-tokenizer.ts';
import { SentencePieceBpeTokenizer } from './sentencepiece-bpe.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { GgufVocab } from '../io/gguf-writer.ts';
import { GrpoError } from '../../errors.ts';

/** llama.cpp token types */
const NORMAL = 1,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5;

/** The llama.cpp pre-tokenizer name of a byte-level split regex (convert_hf_to_gguf.py identifies it by hash). */
function preTokenizerName(json: Record<string, unknown>): string {
  const text = JSON.stringify(json.pre_tokenizer ?? {});
  if (text.includes('\\\\p{N}{1,3}')) return 'llama-bpe';
  if (text.includes('[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}')) return 'qwen2';
  return 'gpt-2';
}

export function ggufVocabFor(tok: Tokenizer, modelVocabSize: number): GgufVocab {
  if (tok instanceof SentencePieceBpeTokenizer) return tok.toGgufVocab();
  if (!(tok instanceof HfTokenizer))
    throw new GrpoError('tokenizer', `cannot write a ${tok.kind} tokenizer into a GGUF`);
  const json = tok.files.tokenizerJson;
  const model = json.model as
    | { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] }
    | undefined;
  if (model?.type !== 'BPE' || !model.vocab)
    throw new GrpoError(
      'tokenizer',
      `cannot write a ${model?.type ?? 'unknown'} tokenizer.json model into a GGUF; byte-level BPE and SentencePiece are supported`,
    );
  const size = Math.max(modelVocabSize, tok.vocabSize);
  const tokens: string[] = new Array(size);
  const types = new Int32Array(size).fill(UNUSED);
  for (const [t, id] of Object.entries(model.vocab)) {
    tokens[id] = t;
    types[id] = NORMAL;
  }
  for (const a of (json.added_tokens ?? []) as { id: number; content: string; special?: boolean }[]) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? CONTROL : USER_DEFINED;
  }
  for (let id = 0; id < size; id++) if (tokens[id] === undefined) tokens[id] = `[PAD${id}]`;
  return {
    model: 'gpt2',
    tokens,
    tokenTypes: types,
    merges: (model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m)),
    pre: preTokenizerName(json),
    bosId: tok.bosId,
    eosId: tok.eosIds[0],
    padId: tok.padId,
    // the tokenizer's own behaviour (a Llama-3 / Llama-style tokenizer.json prepends BOS, Qwen's does not)
    addBos: tok.addBos,
    addEos: tok.addEos,
    chatTemplate: tok.chatTemplate,
  };
}
