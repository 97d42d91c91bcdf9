// Test-only tiny vocabularies (no ../shared needed).
import { writeFileSync } from 'node:fs';
import { byteToChar } from '../../src/model/tokenizer/byte-level.ts';

/** A byte-level BPE vocabulary: the 256 byte characters, then merged tokens; special tokens last. */
export function tinyByteLevelVocab() {
  const vocab: Record<string, number> = {};
  byteToChar.forEach((c, i) => {
    vocab[c] = i;
  });
  const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'Ġw o', 'o r', 'Ġ hello'];
  let next = 256;
  for (const m of merges) vocab[m.replace(' ', '')] = next++;
  const special = { '<|endoftext|>': next, '<|im_start|>': next + 1, '<|im_end|>': next + 2, '<think>': next + 3 };
  return { vocab, merges, special, size: next + 4 };
}

export const chatMlTemplate =
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if tools %}{{ 'tools:' + (tools | length | string) + '\\n' }}{% endif %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}" +
  "{% if messages[0].role == 'bad' %}{{ raise_exception('no bad roles') }}{% endif %}";

/** A tiny SentencePiece vocabulary in llama2.c form (spaces as ' '), with byte fallback tokens 3..258. */
export function tinySentencePieceVocab() {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
  }
  // merged pieces, best first (as llama2.c vocabularies are ordered), then single characters
  const merged = ['aa', ' a', 'ab', ' ab', 'abc', 'he', 'll', 'hell', 'hello', ' hello', 'lo', 'ca', 'bc'];
  merged.forEach((p, i) => {
    pieces.push(p);
    scores.push(-i);
  });
  for (const ch of [' ', 'a', 'b', 'c', 'h', 'e', 'l', 'o', '!', 'ü']) {
    pieces.push(ch);
    scores.push(-1000);
  }
  return { pieces, scores };
}

/** llama2.c run.c `encode`, ported literally (O(n^2) rescans), as the reference for the heap version. */
export function llama2cReferenceEncode(pieces: string[], scores: number[], text: string, bos: boolean): number[] {
  const lookup = (s: string) => pieces.indexOf(s);
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (text !== '') tokens.push(lookup(' '));
  for (const ch of text) {
    const id = lookup(ch);
    if (id !== -1) tokens.push(id);
    else for (const b of Buffer.from(ch, 'utf8')) tokens.push(b + 3);
  }
  for (;;) {
    let bestScore = -1e10,
      bestId = -1,
      bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(pieces[tokens[i]] + pieces[tokens[i + 1]]);
      if (id !== -1 && scores[id] > bestScore) {
        bestScore = scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

/** llama2.c tokenizer file: max piece length, then per piece: score f32, length i32, bytes */
export function writeLlama2cTokenizer(file: string, pieces: string[], scores: number[]): void {
  const bytes = pieces.map((p) => Buffer.from(p, 'utf8'));
  const buf = Buffer.alloc(4 + bytes.reduce((n, b) => n + 8 + b.length, 0));
  let o = buf.writeInt32LE(Math.max(...bytes.map((b) => b.length)), 0);
  bytes.forEach((b, i) => {
    o = buf.writeFloatLE(scores[i], o);
    o = buf.writeInt32LE(b.length, o);
    o += b.copy(buf, o);
  });
  writeFileSync(file, buf);
}
