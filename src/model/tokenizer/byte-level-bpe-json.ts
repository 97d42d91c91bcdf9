import { GrpoError } from '../../errors.ts';

/**
 * Build a tokenizer.json object for a byte-level BPE vocabulary given as a vocab + merges (GPT-2's
 * encoder.json + vocab.bpe, HF's vocab.json + merges.txt, or a GGUF `gpt2` vocabulary), so that one
 * implementation (@huggingface/tokenizers) runs them all. `pre` names the pre-tokenizer as llama.cpp does.
 */

/** Pre-tokenizer split regexes, as in the models' tokenizer.json files (and llama.cpp's llama-vocab.cpp). */
const splitRegex: Record<string, string> = {
  // Llama 3 also sets ignore_merges (a whole word found in the vocabulary is one token), as llama.cpp does.
  'llama-bpe':
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
const aliases: Record<string, string> = {
  default: 'gpt-2',
  'gpt-2': 'gpt-2',
  llama3: 'llama-bpe',
  'llama-v3': 'llama-bpe',
  'llama-bpe': 'llama-bpe',
  qwen2: 'qwen2',
};
export const supportedBytePreTokenizers = Object.keys(aliases);

export interface AddedTokenSpec {
  id: number;
  content: string;
  special: boolean;
}

export function byteLevelBpeTokenizerJson(
  vocab: Record<string, number>,
  merges: string[],
  opts: { pre?: string; addedTokens?: AddedTokenSpec[] } = {},
): Record<string, unknown> {
  const pre = aliases[opts.pre ?? 'gpt-2'];
  if (!pre) {
    throw new GrpoError(
      'tokenizer',
      `byte-level BPE pre-tokenizer '${opts.pre}' is not supported; supported: ${supportedBytePreTokenizers.join(', ')} (or use the model's tokenizer.json)`,
    );
  }
  const byteLevel = (useRegex: boolean) => ({
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: useRegex,
  });
  const preTokenizer =
    pre === 'gpt-2'
      ? byteLevel(true)
      : {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Split', pattern: { Regex: splitRegex[pre] }, behavior: 'Isolated', invert: false },
            byteLevel(false),
          ],
        };
  return {
    version: '1.0',
    added_tokens: (opts.addedTokens ?? []).map((t) => ({
      id: t.id,
      content: t.content,
      special: t.special,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: pre === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: preTokenizer,
    post_processor: byteLevel(false),
    decoder: byteLevel(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre === 'llama-bpe',
      vocab,
      merges,
    },
  };
}

/** merges.txt / vocab.bpe: one "left right" pair per line after an optional "#version" line. */
export function parseMergesText(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.length > 0 && !l.startsWith('#version'));
}
