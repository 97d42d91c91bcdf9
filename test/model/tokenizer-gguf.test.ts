import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GgufType, type GgufEntry } from '../../src/model/io/gguf-format.ts';
import { ggufVocabMetadata, writeGguf, writeGgufModel } from '../../src/model/io/gguf-writer.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { HfTokenizer } from '../../src/model/tokenizer/hf-tokenizer.ts';
import { ggufVocabFor } from '../../src/model/tokenizer/gguf-export.ts';
import { byteLevelBpeTokenizerJson } from '../../src/model/tokenizer/byte-level-bpe-json.ts';
import { bosTemplateProcessor } from '../../src/model/tokenizer/tokenizer-json.ts';
import { randomWeights, tinyConfig, withTempDir } from './io-fixtures.ts';
import { tinyByteLevelVocab, tinySentencePieceVocab } from './tokenizer-fixtures.ts';

const texts = ['hello', 'abc aaa hello!', 'é🦙 ü', ' two  spaces ', ''];

test('a SentencePiece vocabulary stored in GGUF (model llama, ▁ pieces) tokenizes like the original', () =>
  withTempDir((dir) => {
    const { pieces, scores } = tinySentencePieceVocab();
    const original = new SentencePieceBpeTokenizer({ pieces, scores, bosId: 1, eosIds: [2], unkId: 0 }, 'llama2c');
    const vocab = original.toGgufVocab();
    assert.equal(vocab.tokens[pieces.indexOf(' hello')], '▁hello');
    const config = tinyConfig({ vocabSize: pieces.length });
    const path = join(dir, 'm.gguf');
    writeGgufModel(
      path,
      { config, weights: randomWeights(config) },
      { vocab: { ...vocab, chatTemplate: '{{ bos_token }}{{ messages[0].content }}' } },
    );
    const t = loadTokenizer(path);
    assert.equal(t.kind, 'gguf');
    assert.equal(t.vocabSize, pieces.length);
    assert.equal(t.bosId, 1);
    assert.deepEqual(t.eosIds, [2]);
    for (const text of texts) {
      assert.deepEqual(t.encode(text), original.encode(text), JSON.stringify(text));
      assert.equal(t.decode(t.encode(text)), text);
    }
    assert.equal(t.applyChatTemplate([{ role: 'user', content: 'x' }]), '\n<s>\nx');
  }));

test('a byte-level BPE vocabulary stored in GGUF (model gpt2, merges, pre qwen2) tokenizes with its special tokens', () =>
  withTempDir((dir) => {
    const v = tinyByteLevelVocab();
    const tokens: string[] = new Array(v.size);
    for (const [s, id] of Object.entries({ ...v.vocab, ...v.special })) tokens[id] = s;
    const types = tokens.map((s) => (s === '<think>' ? 4 : s in v.special ? 3 : 1));
    const meta = new Map<string, GgufEntry>([['general.architecture', { type: GgufType.STRING, value: 'qwen2' }]]);
    for (const [k, e] of ggufVocabMetadata({
      model: 'gpt2',
      tokens,
      tokenTypes: types,
      merges: v.merges,
      pre: 'qwen2',
      eosId: v.special['<|im_end|>'],
      padId: v.special['<|endoftext|>'],
      addBos: false,
    }))
      meta.set(k, e);
    const path = join(dir, 'v.gguf');
    writeGguf(path, meta, []);
    const t = loadTokenizer(path);
    assert.equal(t.vocabSize, v.size);
    assert.equal(t.bosId, undefined);
    assert.deepEqual(t.eosIds, [v.special['<|im_end|>']]);
    assert.equal(t.padId, v.special['<|endoftext|>']);
    const ids = t.encode('<|im_start|>hello world<|im_end|><think>');
    assert.deepEqual(ids, [
      v.special['<|im_start|>'],
      v.vocab['hello'],
      v.vocab['Ġwo'],
      v.vocab['r'],
      v.vocab['l'],
      v.vocab['d'],
      v.special['<|im_end|>'],
      v.special['<think>'],
    ]);
    assert.equal(t.decode(ids), 'hello world<think>');
    assert.ok(t.isSpecial(v.special['<|im_end|>']) && !t.isSpecial(v.special['<think>']));
  }));

test('a GGUF without a vocabulary says so', () =>
  withTempDir((dir) => {
    const path = join(dir, 'n.gguf');
    const config = tinyConfig();
    writeGgufModel(path, { config, weights: randomWeights(config) });
    assert.throws(() => loadTokenizer(path), /carries no vocabulary/);
    const bad = join(dir, 'b.gguf');
    writeGguf(
      bad,
      new Map([
        ['tokenizer.ggml.model', { type: GgufType.STRING, value: 'bert' }],
        ['tokenizer.ggml.tokens', { type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['a'] }],
      ]),
      [],
    );
    assert.throws(() => loadTokenizer(bad), /'bert' is not supported; supported: llama \(SentencePiece\), gpt2/);
  }));

test("a Hugging Face BPE tokenizer's GGUF vocabulary carries its own add_bos / add_eos, and reads back with them", () =>
  withTempDir((dir) => {
    const v = tinyByteLevelVocab();
    const bos = '<|im_start|>',
      eos = '<|im_end|>';
    const addedTokens = Object.entries(v.special).map(([content, id]) => ({ id, content, special: true }));
    const tokenizer = (postProcessor: unknown, config: Record<string, unknown>) =>
      new HfTokenizer({
        tokenizerJson: {
          ...byteLevelBpeTokenizerJson(v.vocab, v.merges, { pre: 'qwen2', addedTokens }),
          post_processor: postProcessor,
        },
        tokenizerConfig: { bos_token: bos, eos_token: eos, ...config },
      });
    const cases = [
      // Qwen: no BOS anywhere
      [tokenizer(null, { bos_token: null }), false, false],
      // Llama 3: the post-processor prepends BOS, tokenizer_config.json says nothing
      [tokenizer(bosTemplateProcessor(bos, v.special[bos]), {}), true, false],
      // tokenizer_config.json decides where it says
      [tokenizer(null, { add_bos_token: true, add_eos_token: true }), true, true],
    ] as const;
    cases.forEach(([tok, addBos, addEos], i) => {
      const vocab = ggufVocabFor(tok, v.size + 3);
      assert.deepEqual([vocab.addBos, vocab.addEos], [addBos, addEos], `case ${i}`);
      const config = tinyConfig({ vocabSize: v.size + 3, bosTokenId: undefined, eosTokenIds: [v.special[eos]] });
      const path = join(dir, `m${i}.gguf`);
      writeGgufModel(path, { config, weights: randomWeights(config) }, { vocab });
      const back = loadTokenizer(path) as HfTokenizer;
      assert.deepEqual([back.addBos, back.addEos], [addBos, addEos], `case ${i} read back`);
      assert.deepEqual(back.encode('hello world'), tok.encode('hello world'), `case ${i} encodes alike`);
    });
  }));
