import { GrpoError } from '../../errors.ts';
import { ggufGet, readGgufFile, type GgufFile } from '../io/gguf-format.ts';
import { byteLevelBpeTokenizerJson, type AddedTokenSpec } from './byte-level-bpe-json.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { SentencePieceBpeTokenizer, TokenType } from './sentencepiece-bpe.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * The vocabulary inside a GGUF file (llama.cpp's `tokenizer.ggml.*` keys): model `llama` is SentencePiece
 * BPE by scores (pieces with '▁'), model `gpt2` is byte-level BPE with merges and a named pre-tokenizer
 * (`tokenizer.ggml.pre`), which we run through @huggingface/tokenizers.
 */

function optionalId(file: GgufFile, key: string): number | undefined {
  const v = ggufGet(file, key);
  return typeof v === 'number' && v >= 0 && v < 0xffffffff ? v : undefined;
}

function strings(file: GgufFile, key: string): string[] {
  const v = ggufGet(file, key);
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    throw new GrpoError('tokenizer', `${file.path}: GGUF metadata '${key}' is missing or not a string array`);
  return v as string[];
}

export function tokenizerFromGguf(file: GgufFile): Tokenizer {
  const model = ggufGet(file, 'tokenizer.ggml.model');
  if (model === undefined)
    throw new GrpoError(
      'tokenizer',
      `${file.path} carries no vocabulary (no tokenizer.ggml.model); pass a tokenizer explicitly`,
    );
  const vocab: GgufVocabulary = {
    tokens: strings(file, 'tokenizer.ggml.tokens'),
    types: ggufGet(file, 'tokenizer.ggml.token_type') as ArrayLike<number> | undefined,
    ...ggufSpecialTokens(file),
  };
  if (model === 'llama') return sentencePieceFromGguf(file, vocab);
  if (model === 'gpt2') return byteLevelBpeFromGguf(file, vocab);
  throw new GrpoError(
    'tokenizer',
    `${file.path}: GGUF tokenizer model '${String(model)}' is not supported; supported: llama (SentencePiece), gpt2 (byte-level BPE)`,
  );
}

/** What both vocabulary models read alike: the tokens, their llama.cpp types and the special tokens. */
interface GgufVocabulary extends GgufSpecialTokens {
  tokens: string[];
  types: ArrayLike<number> | undefined;
}

interface GgufSpecialTokens {
  bosId: number | undefined;
  /** eos, then eot and eom where they differ (each ends a turn) */
  eosIds: number[];
  padId: number | undefined;
  addBos: boolean | undefined;
  addEos: boolean | undefined;
  chatTemplate: string | undefined;
}

function ggufSpecialTokens(file: GgufFile): GgufSpecialTokens {
  return {
    bosId: optionalId(file, 'tokenizer.ggml.bos_token_id'),
    eosIds: ['eos', 'eot', 'eom']
      .map((k) => optionalId(file, `tokenizer.ggml.${k}_token_id`))
      .filter((id, i, a): id is number => id !== undefined && a.indexOf(id) === i),
    padId: optionalId(file, 'tokenizer.ggml.padding_token_id'),
    addBos: ggufGet(file, 'tokenizer.ggml.add_bos_token') as boolean | undefined,
    addEos: ggufGet(file, 'tokenizer.ggml.add_eos_token') as boolean | undefined,
    chatTemplate: ggufGet(file, 'tokenizer.chat_template') as string | undefined,
  };
}

/** Model `llama`: SentencePiece pieces ranked by score, '▁' for spaces except in byte pieces. */
function sentencePieceFromGguf(file: GgufFile, v: GgufVocabulary): Tokenizer {
  const scores =
    (ggufGet(file, 'tokenizer.ggml.scores') as ArrayLike<number> | undefined) ?? new Float32Array(v.tokens.length);
  return new SentencePieceBpeTokenizer(
    {
      pieces: v.tokens.map((t, id) => (v.types && v.types[id] === TokenType.byte ? t : t.replaceAll('▁', ' '))),
      scores,
      types: v.types,
      bosId: v.bosId,
      eosIds: v.eosIds,
      padId: v.padId,
      unkId: optionalId(file, 'tokenizer.ggml.unknown_token_id'),
      addDummyPrefix: (ggufGet(file, 'tokenizer.ggml.add_space_prefix') as boolean | undefined) ?? true,
      addBos: v.addBos ?? true,
      chatTemplate: v.chatTemplate,
    },
    'gguf',
  );
}

/** Model `gpt2`: byte-level BPE with merges; control and user-defined tokens become added tokens. */
function byteLevelBpeFromGguf(file: GgufFile, v: GgufVocabulary): Tokenizer {
  const merges = strings(file, 'tokenizer.ggml.merges');
  const vocab: Record<string, number> = {};
  const added: AddedTokenSpec[] = [];
  v.tokens.forEach((t, id) => {
    const type = v.types?.[id] ?? TokenType.normal;
    if (type === TokenType.control || type === TokenType.userDefined)
      added.push({ id, content: t, special: type === TokenType.control });
    else vocab[t] = id;
  });
  const pre = (ggufGet(file, 'tokenizer.ggml.pre') as string | undefined) ?? 'default';
  const tokenizerJson = byteLevelBpeTokenizerJson(vocab, merges, { pre, addedTokens: added });
  const name = (id: number | undefined) => (id === undefined ? null : v.tokens[id]);
  return new HfTokenizer(
    {
      tokenizerJson,
      tokenizerConfig: {
        bos_token: name(v.bosId),
        eos_token: name(v.eosIds[0]),
        pad_token: name(v.padId),
        add_bos_token: v.addBos ?? false,
        add_eos_token: v.addEos ?? false,
        chat_template: v.chatTemplate,
      },
      modelConfig: { eos_token_id: v.eosIds },
    },
    'gguf',
  );
}

export function loadGgufTokenizer(path: string): Tokenizer {
  return tokenizerFromGguf(readGgufFile(path));
}
