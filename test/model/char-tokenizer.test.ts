import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CHAR_CONTROL_TOKENS,
  R1_TAGS,
  charTokenizerFiles,
  charVocabularyTokens,
  createCharTokenizer,
  encodeStrict,
} from '../../src/model/tokenizer/char-tokenizer.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import { StreamDecoder } from '../../src/model/tokenizer/tokenizer.ts';
import { readHfModel, writeHfModel } from '../../src/model/io/hf-folder.ts';
import { openModel } from '../../src/model/open-model.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';
import { randomWeights, tinyConfig, withTempDir } from './io-fixtures.ts';

const vocabulary = { chars: '0123456789+=,', tags: R1_TAGS };
const tok = createCharTokenizer(vocabulary);
const text = '37+48=<think>7+8=15,3+4+1=8</think><answer>85</answer>';

test('one token per character, one per tag, BOS first; decode gives the text back', () => {
  assert.equal(tok.kind, 'hf');
  assert.equal(tok.vocabSize, 4 + 4 + 13);
  assert.deepEqual([tok.padId, tok.bosId, tok.eosIds[0], tok.tokenToId('<unk>')], [0, 1, 2, 3]);
  const ids = tok.encode(text);
  const expected = [1, ...'37+48='.split('').map((c) => tok.tokenToId(c)!), tok.tokenToId('<think>')!];
  assert.deepEqual(ids.slice(0, expected.length), expected);
  assert.equal(ids.length, 1 + text.replace(/<\/?(think|answer)>/g, 'T').length);
  assert.deepEqual(
    ids
      .map((id) => tok.idToToken(id))
      .slice(1)
      .join(''),
    text,
  );
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.decode([...ids, 2]), text, 'control tokens are dropped by default');
  assert.equal(tok.decode([...ids, 2], { skipSpecialTokens: false }), `<s>${text}</s>`);
  assert.deepEqual(tok.encode('1+1', { addBos: false }), [tok.tokenToId('1'), tok.tokenToId('+'), tok.tokenToId('1')]);
  const stream = new StreamDecoder(tok);
  assert.equal(ids.map((id) => stream.push(id)).join(''), text, 'streamed text equals decoded text');
});

test('control tokens are special; the R1 tags are atomic but kept in decoded text', () => {
  assert.deepEqual([...tok.specialTokens.keys()].sort(), Object.values(CHAR_CONTROL_TOKENS).sort());
  for (const tag of R1_TAGS) {
    const id = tok.tokenToId(tag)!;
    assert.deepEqual(tok.encode(tag, { addBos: false }), [id]);
    assert.equal(tok.isSpecial(id), false);
    assert.equal(tok.decodeToken(id), tag);
  }
  assert.deepEqual(charVocabularyTokens(vocabulary).slice(0, 8), ['<pad>', '<s>', '</s>', '<unk>', ...R1_TAGS]);
});

test('unknown characters become <unk>, and encodeStrict names them', () => {
  assert.deepEqual(tok.encode('1x', { addBos: false }), [tok.tokenToId('1'), 3]);
  assert.throws(() => encodeStrict(tok, '12 + 3'), /character " ", which is not in the character vocabulary/);
  assert.deepEqual(encodeStrict(tok, '12'), tok.encode('12'));
  assert.throws(() => createCharTokenizer({ chars: 'aab' }), /listed twice/);
  assert.throws(() => createCharTokenizer({ chars: 'ab', tags: ['x'] }), /single character/);
});

test('the tokenizer round-trips through an HF checkpoint folder (tokenizer.json + tokenizer_config.json)', () =>
  withTempDir((dir) => {
    const config = tinyConfig({ vocabSize: tok.vocabSize, bosTokenId: tok.bosId, eosTokenIds: [...tok.eosIds] });
    writeHfModel(join(dir, 'm'), { config, weights: randomWeights(config, 2) }, { tokenizer: tok });
    const json = JSON.parse(readFileSync(join(dir, 'm', 'tokenizer.json'), 'utf8')) as {
      model: { type: string; merges: unknown[] };
      decoder: { type: string };
      post_processor: { type: string };
    };
    assert.deepEqual(json, charTokenizerFiles(vocabulary).tokenizerJson);
    // the shape transformers' PreTrainedTokenizerFast reads: BPE with no merges, Fuse decoder, BOS template
    assert.equal(json.model.type, 'BPE');
    assert.deepEqual(json.model.merges, []);
    assert.equal(json.decoder.type, 'Fuse');
    assert.equal(json.post_processor.type, 'TemplateProcessing');
    const loaded = loadTokenizer(join(dir, 'm'));
    for (const p of embeddedTask('embedded:addition').train(200, 4)) {
      const s = p.prompt + p.completion;
      assert.deepEqual(loaded.encode(s), tok.encode(s));
      assert.equal(loaded.decode(loaded.encode(s)), s);
    }
    assert.deepEqual(
      [loaded.bosId, loaded.eosIds, loaded.padId, loaded.vocabSize],
      [tok.bosId, tok.eosIds, tok.padId, tok.vocabSize],
    );
    const { model, tokenizer } = openModel(join(dir, 'm'), { threads: 1 });
    try {
      assert.deepEqual(model.config.eosTokenIds, [2]);
      assert.equal(model.config.bosTokenId, 1);
      assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
    } finally {
      model.free();
    }
    assert.equal(readHfModel(join(dir, 'm')).config.vocabSize, tok.vocabSize);
  }));
