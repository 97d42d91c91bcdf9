import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { loadTokenizer, loadTokenizerForModel } from '../../src/model/tokenizer/load-tokenizer.ts';
import { parseLlama2cTokenizer } from '../../src/model/tokenizer/llama2c-tokenizer.ts';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { StreamDecoder } from '../../src/model/tokenizer/tokenizer.ts';
import { rng, withTempDir } from './io-fixtures.ts';
import { llama2cReferenceEncode, tinySentencePieceVocab } from './tokenizer-fixtures.ts';

/** Serialize a vocabulary in llama2.c's tokenizer.bin format. */
function llama2cTokenizerFile(pieces: string[], scores: number[]): Buffer {
  const parts = [Buffer.from(new Int32Array([Math.max(...pieces.map((p) => Buffer.byteLength(p)))]).buffer)];
  pieces.forEach((p, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(scores[i], 0);
    head.writeInt32LE(Buffer.byteLength(p), 4);
    parts.push(head, Buffer.from(p));
  });
  return Buffer.concat(parts);
}

const { pieces, scores } = tinySentencePieceVocab();
const tok = parseLlama2cTokenizer(llama2cTokenizerFile(pieces, scores), 'tiny');
const id = (p: string) => pieces.indexOf(p);

test('llama2.c tokenizer file: vocabulary, BOS/EOS, special tokens', () => {
  assert.equal(tok.kind, 'llama2c');
  assert.equal(tok.vocabSize, pieces.length);
  assert.equal(tok.bosId, 1);
  assert.deepEqual(tok.eosIds, [2]);
  assert.ok(tok.isSpecial(0) && tok.isSpecial(1) && tok.isSpecial(2) && !tok.isSpecial(id('a')));
  assert.equal(tok.specialTokens.get('\n<s>\n'), 1);
  assert.equal(tok.idToToken(id('hello')), 'hello');
  assert.equal(tok.tokenToId('<0x41>'), 3 + 0x41);
  assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), GrpoError);
});

test('merges follow piece scores with a dummy prefix, leftmost on ties, bytes for unknown characters', () => {
  assert.deepEqual(tok.encode('hello'), [1, id(' hello')]);
  assert.deepEqual(tok.encode('hello', { addBos: false }), [id(' hello')]);
  assert.deepEqual(tok.encode('', { addBos: true }), [1]);
  assert.deepEqual(tok.encode('aaa', { addBos: false }), [id(' '), id('aa'), id('a')]); // 'aa' (score 0) beats ' a' (-1); leftmost 'aa' wins
  assert.deepEqual(tok.encode('abc', { addBos: false }), [id(' ab'), id('c')]);
  assert.deepEqual(tok.encode('é!', { addBos: false }), [id(' '), 3 + 0xc3, 3 + 0xa9, id('!')]);
});

test('heap-based encoding equals llama2.c run.c encode on random text', () => {
  const r = rng(5);
  const alphabet = ['a', 'b', 'c', 'h', 'e', 'l', 'o', ' ', '!', 'ü', 'é', '🦙', 'x'];
  for (let n = 0; n < 300; n++) {
    const text = Array.from(
      { length: Math.floor((r() + 0.5) * 30) },
      () => alphabet[Math.floor((r() + 0.5) * alphabet.length)],
    ).join('');
    assert.deepEqual(tok.encode(text), llama2cReferenceEncode(pieces, scores, text, true), JSON.stringify(text));
  }
});

test('decode drops the space after BOS, decodes byte tokens as bytes, and skips specials by default', () => {
  for (const text of ['hello', 'abc aaa hello!', 'é🦙 ü', ' two  spaces '])
    assert.equal(tok.decode(tok.encode(text)), text);
  const ids = tok.encode('hello');
  assert.equal(tok.decode(ids, { skipSpecialTokens: false }), '\n<s>\nhello');
  assert.equal(tok.decode(ids.slice(1)), ' hello', 'no BOS before it: the space stays');
  assert.equal(tok.decodeToken(ids[1], 1), 'hello');
  assert.deepEqual([...tok.tokenBytes(3 + 0xff)], [0xff]);
});

test('StreamDecoder emits each character once it is complete', () => {
  const ids = tok.encode('é🦙!');
  const stream = new StreamDecoder(tok);
  const pieces = ids.map((i) => stream.push(i));
  assert.equal(pieces.join('') + stream.flush(), 'é🦙!');
  assert.ok(pieces.filter((p) => p === '').length >= 4, 'partial UTF-8 bytes were held back');
  assert.deepEqual(
    pieces.filter((p) => p !== ''),
    ['é', '🦙', '!'],
  );
});

test('loadTokenizer reads tokenizer .bin files; loadTokenizerForModel finds tok{N}.bin beside a model', () =>
  withTempDir((dir) => {
    writeFileSync(join(dir, `tok${pieces.length}.bin`), llama2cTokenizerFile(pieces, scores));
    writeFileSync(join(dir, 'model.bin'), Buffer.alloc(64));
    const a = loadTokenizer(join(dir, `tok${pieces.length}.bin`));
    assert.deepEqual(a.encode('hello abc'), tok.encode('hello abc'));
    assert.equal(loadTokenizerForModel(join(dir, 'model.bin'), pieces.length).vocabSize, pieces.length);
    assert.throws(() => loadTokenizerForModel(join(dir, 'model.bin'), 99), /tok99\.bin, tokenizer\.bin/);
    assert.throws(() => loadTokenizer(join(dir, 'model.bin')), /not a llama2\.c tokenizer/);
  }));

test('a SentencePiece vocabulary without byte tokens falls back to <unk>', () => {
  const t = new SentencePieceBpeTokenizer(
    { pieces: ['<unk>', '<s>', '</s>', ' ', 'a'], scores: [0, 0, 0, 0, 0], bosId: 1, eosIds: [2], unkId: 0 },
    'gguf',
  );
  assert.deepEqual(t.encode('aé'), [1, 3, 4, 0, 0]);
});
