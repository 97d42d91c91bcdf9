import { readFileSync } from 'node:fs';
import { GrpoError } from '../../errors.ts';
import { SentencePieceBpeTokenizer } from './sentencepiece-bpe.ts';

/**
 * llama2.c tokenizer files (tokenizer.bin, tok512.bin; written by llama2.c's tokenizer.py): int32
 * max_token_length, then per token float32 score, int32 byte length, the piece bytes — until end of file
 * (the count is the model's vocab_size). Pieces use ' ' for SentencePiece's '▁'; ids 0, 1, 2 are <unk>,
 * BOS, EOS; `<0xXX>` pieces are byte fallbacks. Encoding always prepends BOS unless told not to.
 */
export function parseLlama2cTokenizer(bytes: Uint8Array, source: string): SentencePieceBpeTokenizer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const notTokenizer = (why: string) =>
    new GrpoError(
      'tokenizer',
      `${source} is not a llama2.c tokenizer file (${why}); a llama2.c model .bin is loaded with loadModelWeights, its tokenizer is a separate tokenizer.bin / tok512.bin`,
    );
  if (buf.length < 4) throw notTokenizer('too short');
  const maxLen = buf.readInt32LE(0);
  if (maxLen <= 0 || maxLen > 4096) throw notTokenizer(`max_token_length ${maxLen}`);
  const pieces: string[] = [];
  const scores: number[] = [];
  let pos = 4;
  while (pos < buf.length) {
    if (pos + 8 > buf.length) throw notTokenizer(`truncated entry at byte ${pos}`);
    const score = buf.readFloatLE(pos);
    const len = buf.readInt32LE(pos + 4);
    if (len < 0 || len > maxLen || pos + 8 + len > buf.length || !Number.isFinite(score))
      throw notTokenizer(`bad entry ${pieces.length} at byte ${pos}`);
    scores.push(score);
    pieces.push(buf.toString('utf8', pos + 8, pos + 8 + len));
    pos += 8 + len;
  }
  if (pieces.length < 3) throw notTokenizer(`only ${pieces.length} tokens`);
  return new SentencePieceBpeTokenizer(
    { pieces, scores, bosId: 1, eosIds: [2], unkId: 0, addDummyPrefix: true, addBos: true },
    'llama2c',
  );
}

export function loadLlama2cTokenizer(path: string): SentencePieceBpeTokenizer {
  return parseLlama2cTokenizer(readFileSync(path), path);
}
