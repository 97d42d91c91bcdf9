import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readHfModel, writeHfModel } from '../../src/model/io/hf-folder.ts';
import { hfTokenizerFilesFor } from '../../src/model/tokenizer/hf-export.ts';
import { HfTokenizer } from '../../src/model/tokenizer/hf-tokenizer.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { byteLevelBpeTokenizerJson } from '../../src/model/tokenizer/byte-level-bpe-json.ts';
import { randomWeights, rng, tinyConfig, withTempDir } from './io-fixtures.ts';
import { chatMlTemplate, tinyByteLevelVocab, tinySentencePieceVocab } from './tokenizer-fixtures.ts';

const { pieces, scores } = tinySentencePieceVocab();
const spm = new SentencePieceBpeTokenizer(
  { pieces, scores, bosId: 1, eosIds: [2], unkId: 0, chatTemplate: chatMlTemplate },
  'llama2c',
);

test('a SentencePiece vocabulary exported as tokenizer.json (BPE + byte fallback) encodes and decodes identically', () => {
  const files = hfTokenizerFilesFor(spm);
  const config = JSON.parse(files['tokenizer_config.json']);
  assert.deepEqual(
    [config.bos_token, config.eos_token, config.unk_token, config.add_bos_token],
    ['<s>', '</s>', '<unk>', true],
  );
  const hf = new HfTokenizer({ tokenizerJson: JSON.parse(files['tokenizer.json']), tokenizerConfig: config });
  assert.equal(hf.bosId, 1);
  assert.deepEqual(hf.eosIds, [2]);
  const r = rng(8);
  const alphabet = ['a', 'b', 'c', 'h', 'e', 'l', 'o', ' ', '!', 'ü', 'é', '🦙'];
  for (let n = 0; n < 300; n++) {
    const text = Array.from(
      { length: Math.floor((r() + 0.5) * 25) + 1 },
      () => alphabet[Math.floor((r() + 0.5) * alphabet.length)],
    ).join('');
    const ids = spm.encode(text);
    assert.deepEqual(hf.encode(text), ids, JSON.stringify(text));
    assert.equal(hf.decode(ids), spm.decode(ids), JSON.stringify(text));
  }
  assert.equal(
    hf.applyChatTemplate([{ role: 'user', content: 'x' }]),
    spm.applyChatTemplate([{ role: 'user', content: 'x' }]),
  );
});

test('writeHfModel saves a loaded tokenizer as HF files that load back equivalently', () =>
  withTempDir((dir) => {
    const config = tinyConfig({ vocabSize: pieces.length });
    writeHfModel(join(dir, 'spm'), { config, weights: randomWeights(config) }, { tokenizer: spm });
    assert.equal(loadTokenizer(join(dir, 'spm')).kind, 'hf');
    assert.deepEqual(loadTokenizer(join(dir, 'spm')).encode('hello abc é'), spm.encode('hello abc é'));
    const v = tinyByteLevelVocab();
    const bl = new HfTokenizer({
      tokenizerJson: byteLevelBpeTokenizerJson(v.vocab, v.merges),
      tokenizerConfig: { eos_token: 'h', chat_template: 'T' },
    });
    writeHfModel(join(dir, 'bl'), { config, weights: randomWeights(config) }, { tokenizer: bl });
    const back = loadTokenizer(join(dir, 'bl'));
    assert.deepEqual(back.encode(' hello world'), bl.encode(' hello world'));
    assert.equal(back.chatTemplate, 'T');
    assert.equal(JSON.parse(readFileSync(join(dir, 'bl', 'tokenizer_config.json'), 'utf8')).eos_token, 'h');
    assert.equal(readHfModel(join(dir, 'bl')).config.vocabSize, pieces.length);
  }));
