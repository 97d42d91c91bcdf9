/**
 * Pieces of a Hugging Face tokenizer.json that more than one of our writers emits (the SentencePiece export
 * and the character tokenizer). Key order is the order transformers writes, and part of the files' bytes.
 */

/** An `added_tokens` entry: matched whole before the model runs, never normalized. */
export function addedTokenJson(id: number, content: string, special: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** The post-processor that prepends BOS as Llama tokenizers do (so transformers' tokenizer(text) starts with it). */
export function bosTemplateProcessor(bos: string, bosId: number | undefined): Record<string, unknown> {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

/** A BPE `model` without subword prefix or suffix (the byte-level BPE of byte-level-bpe-json.ts sets them to ''). */
export interface BpeModelSpec {
  unkToken: string | null;
  /** join consecutive unknown pieces into one <unk> */
  fuseUnk: boolean;
  /** spell pieces outside the vocabulary as <0xNN> byte tokens (SentencePiece's byte fallback) */
  byteFallback: boolean;
  vocab: Record<string, number>;
  merges: [string, string][];
}

export function bpeModelJson(m: BpeModelSpec): Record<string, unknown> {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: m.unkToken,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: m.fuseUnk,
    byte_fallback: m.byteFallback,
    ignore_merges: false,
    vocab: m.vocab,
    merges: m.merges,
  };
}
