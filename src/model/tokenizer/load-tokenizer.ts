import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GrpoError } from '../../errors.ts';
import { byteLevelBpeTokenizerJson, parseMergesText } from './byte-level-bpe-json.ts';
import { loadGgufTokenizer } from './gguf-tokenizer.ts';
import { HfTokenizer, loadHfTokenizerFolder } from './hf-tokenizer.ts';
import { loadLlama2cTokenizer } from './llama2c-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * GPT-2-style vocabulary files (encoder.json + vocab.bpe from openai/gpt-2, or vocab.json + merges.txt from
 * HF "slow" tokenizers) as a byte-level BPE tokenizer; `<|endoftext|>` is its BOS/EOS when present.
 */
export function loadByteLevelBpeFiles(
  vocabPath: string,
  mergesPath: string,
  tokenizerConfigPath?: string,
): HfTokenizer {
  const vocab = JSON.parse(readFileSync(vocabPath, 'utf8')) as Record<string, number>;
  const merges = parseMergesText(readFileSync(mergesPath, 'utf8'));
  const eot = '<|endoftext|>';
  const hasEot = eot in vocab;
  const addedTokens = hasEot ? [{ id: vocab[eot], content: eot, special: true }] : [];
  const config =
    tokenizerConfigPath && existsSync(tokenizerConfigPath)
      ? (JSON.parse(readFileSync(tokenizerConfigPath, 'utf8')) as Record<string, unknown>)
      : hasEot
        ? { bos_token: eot, eos_token: eot, add_bos_token: false }
        : {};
  return new HfTokenizer({
    tokenizerJson: byteLevelBpeTokenizerJson(vocab, merges, { addedTokens }),
    tokenizerConfig: config,
  });
}

/** The tokenizer in a folder, by what is there (most specific first). */
function loadFromFolder(dir: string): Tokenizer {
  const has = (f: string) => existsSync(join(dir, f));
  if (has('tokenizer.json')) return loadHfTokenizerFolder(dir);
  if (has('vocab.json') && has('merges.txt'))
    return loadByteLevelBpeFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'), join(dir, 'tokenizer_config.json'));
  if (has('encoder.json') && has('vocab.bpe'))
    return loadByteLevelBpeFiles(join(dir, 'encoder.json'), join(dir, 'vocab.bpe'), join(dir, 'tokenizer_config.json'));
  if (has('tokenizer.bin')) return loadLlama2cTokenizer(join(dir, 'tokenizer.bin'));
  const sp = has('tokenizer.model')
    ? ' (tokenizer.model alone, a SentencePiece protobuf, is not supported: save the tokenizer with a tokenizer.json)'
    : '';
  throw new GrpoError(
    'tokenizer',
    `no tokenizer found in ${dir}: expected tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe, or a llama2.c tokenizer.bin${sp}`,
  );
}

/**
 * Load a tokenizer from a folder (tokenizer.json ...), a tokenizer.json file, a llama2.c tokenizer .bin or
 * the vocabulary inside a .gguf.
 */
export function loadTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new GrpoError('tokenizer', `tokenizer path ${path} does not exist`);
  if (statSync(path).isDirectory()) return loadFromFolder(path);
  if (/\.gguf$/i.test(path)) return loadGgufTokenizer(path);
  if (/\.bin$/i.test(path)) return loadLlama2cTokenizer(path);
  if (basename(path) === 'tokenizer.json') return loadHfTokenizerFolder(dirname(path));
  throw new GrpoError(
    'tokenizer',
    `cannot tell the tokenizer format of ${path}: pass a folder with tokenizer.json, a tokenizer.json, a llama2.c tokenizer .bin or a .gguf`,
  );
}

/**
 * The tokenizer that belongs to a model path: the folder or GGUF itself; for a llama2.c model .bin, a
 * tokenizer.bin or tok{vocabSize}.bin beside it (llama2.c's naming).
 */
export function loadTokenizerForModel(modelPath: string, vocabSize?: number): Tokenizer {
  if (existsSync(modelPath) && !statSync(modelPath).isDirectory() && /\.bin$/i.test(modelPath)) {
    const dir = dirname(modelPath);
    const candidates = [...(vocabSize ? [`tok${vocabSize}.bin`] : []), 'tokenizer.bin'].map((f) => join(dir, f));
    const found = candidates.find((f) => existsSync(f));
    if (!found)
      throw new GrpoError(
        'tokenizer',
        `no tokenizer next to ${modelPath} (looked for ${candidates.map((c) => basename(c)).join(', ')}); pass the tokenizer path explicitly`,
      );
    return loadLlama2cTokenizer(found);
  }
  return loadTokenizer(modelPath);
}
