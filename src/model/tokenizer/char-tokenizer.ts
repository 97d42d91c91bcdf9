/**
 * Character-level tokenizers for small synthetic tasks: one token per character, plus whole-tag tokens.
 *
 * The tokenizer is written as a Hugging Face tokenizer.json (a BPE model with an empty merge list, so every
 * character is its own token) and run by the same HfTokenizer as any other checkpoint. That makes the checkpoint
 * round trip free: writeHfModel saves it, loadTokenizer(folder) reads it back, and transformers loads it too.
 *
 * Token ids: control tokens first (<pad> 0, <s> 1, </s> 2, <unk> 3), then the tags, then the characters in
 * the order given. Control tokens are `special` (dropped by decode); tags such as <think> are added tokens
 * with `special: false`, as Qwen3 declares its <think> tags, so decoded text keeps them for the R1 format
 * and answer rewards.
 */
import { GrpoError } from '../../errors.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';
import { addedTokenJson, bosTemplateProcessor, bpeModelJson } from './tokenizer-json.ts';

export interface CharVocabulary {
  /** every ordinary character the texts may contain, each once */
  chars: string;
  /** multi-character tags encoded as one token each (e.g. <think>) */
  tags?: readonly string[];
}

export const CHAR_CONTROL_TOKENS = { pad: '<pad>', bos: '<s>', eos: '</s>', unk: '<unk>' } as const;

/** The R1 reasoning tags (DeepSeek-R1 §2.2.1 template). */
export const R1_TAGS = ['<think>', '</think>', '<answer>', '</answer>'] as const;

type Json = Record<string, unknown>;

function checkVocabulary(v: CharVocabulary): void {
  const chars = [...v.chars];
  if (chars.length === 0) throw new GrpoError('tokenizer', 'a character vocabulary needs at least one character');
  const seen = new Set<string>();
  for (const c of chars) {
    if (seen.has(c))
      throw new GrpoError('tokenizer', `character ${JSON.stringify(c)} is listed twice in the character vocabulary`);
    seen.add(c);
  }
  const control = Object.values(CHAR_CONTROL_TOKENS) as string[];
  for (const t of v.tags ?? []) {
    if ([...t].length < 2)
      throw new GrpoError('tokenizer', `tag ${JSON.stringify(t)} is a single character; list it in chars instead`);
    if (control.includes(t) || seen.has(t))
      throw new GrpoError('tokenizer', `tag ${JSON.stringify(t)} is listed twice or collides with a control token`);
    seen.add(t);
  }
}

/** The vocabulary strings in id order. */
export function charVocabularyTokens(v: CharVocabulary): string[] {
  return [...Object.values(CHAR_CONTROL_TOKENS), ...(v.tags ?? []), ...v.chars];
}

/** tokenizer.json and tokenizer_config.json for a character vocabulary. */
export function charTokenizerFiles(v: CharVocabulary): { tokenizerJson: Json; tokenizerConfig: Json } {
  checkVocabulary(v);
  const tokens = charVocabularyTokens(v);
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => {
    vocab[t] = id;
  });
  const { bos, eos, pad, unk } = CHAR_CONTROL_TOKENS;
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: charAddedTokens(v, tokens),
    normalizer: null,
    pre_tokenizer: null,
    // prepend BOS as Llama tokenizers do, so transformers' tokenizer(text) matches encode(text)
    post_processor: bosTemplateProcessor(bos, vocab[bos]),
    // Fuse joins the pieces without separators (the default decoder would put spaces between them)
    decoder: { type: 'Fuse' },
    model: bpeModelJson({ unkToken: unk, fuseUnk: false, byteFallback: false, vocab, merges: [] }),
  };
  const tokenizerConfig: Json = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos,
    eos_token: eos,
    pad_token: pad,
    unk_token: unk,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1000000000000000,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** The control tokens (special: decode drops them) and the tags (kept in decoded text), in id order. */
function charAddedTokens(v: CharVocabulary, tokens: string[]): Json[] {
  const control = new Set<string>(Object.values(CHAR_CONTROL_TOKENS));
  const nAdded = control.size + (v.tags?.length ?? 0);
  return tokens.slice(0, nAdded).map((content, id) => addedTokenJson(id, content, control.has(content)));
}

/**
 * A character-level tokenizer: encode('37+48=') is [<s>, '3', '7', '+', '4', '8', '='] by default;
 * characters outside the vocabulary become <unk> (use `encodeStrict` to reject them instead).
 */
export function createCharTokenizer(v: CharVocabulary): HfTokenizer {
  return new HfTokenizer(charTokenizerFiles(v));
}

/** Encode `text`, throwing a GrpoError naming the first character the tokenizer does not know. */
export function encodeStrict(tokenizer: Tokenizer, text: string, opts: { addBos?: boolean } = {}): number[] {
  const ids = tokenizer.encode(text, opts);
  const unk = tokenizer.tokenToId(CHAR_CONTROL_TOKENS.unk);
  if (unk !== undefined && ids.includes(unk) && !text.includes(CHAR_CONTROL_TOKENS.unk)) {
    const bad = [...text].find((c) => tokenizer.tokenToId(c) === undefined);
    throw new GrpoError(
      'tokenizer',
      `text ${JSON.stringify(text.slice(0, 60))} has character ${JSON.stringify(bad)}, which is not in the character vocabulary; add it to chars`,
    );
  }
  return ids;
}
