import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { byteLevelBpeTokenizerJson } from '../../src/model/tokenizer/byte-level-bpe-json.ts';
import { HfTokenizer } from '../../src/model/tokenizer/hf-tokenizer.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import { StreamDecoder } from '../../src/model/tokenizer/tokenizer.ts';
import { withTempDir } from './io-fixtures.ts';
import { chatMlTemplate, tinyByteLevelVocab } from './tokenizer-fixtures.ts';

const v = tinyByteLevelVocab();
const tokenizerJson = byteLevelBpeTokenizerJson(v.vocab, v.merges, {
  pre: 'qwen2',
  addedTokens: [
    { id: v.special['<|endoftext|>'], content: '<|endoftext|>', special: true },
    { id: v.special['<|im_start|>'], content: '<|im_start|>', special: true },
    { id: v.special['<|im_end|>'], content: '<|im_end|>', special: true },
    { id: v.special['<think>'], content: '<think>', special: false },
  ],
});
const tokenizerConfig = {
  bos_token: null,
  eos_token: '<|im_end|>',
  pad_token: '<|endoftext|>',
  chat_template: chatMlTemplate,
};

function writeFolder(dir: string): void {
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ eos_token_id: v.special['<|endoftext|>'], bos_token_id: 3 }),
  );
}

test('HF folder: vocabulary size, special tokens, bos/eos/pad from tokenizer_config and config.json', () =>
  withTempDir((dir) => {
    writeFolder(dir);
    const t = loadTokenizer(dir);
    assert.equal(t.kind, 'hf');
    assert.equal(t.vocabSize, v.size);
    assert.equal(t.bosId, undefined, 'tokenizer_config says bos_token: null, which wins over config.json');
    assert.deepEqual(t.eosIds, [v.special['<|im_end|>'], v.special['<|endoftext|>']]);
    assert.equal(t.padId, v.special['<|endoftext|>']);
    assert.deepEqual([...t.specialTokens.keys()].sort(), ['<|endoftext|>', '<|im_end|>', '<|im_start|>']);
    assert.ok(!t.isSpecial(v.special['<think>']));
    assert.equal(loadTokenizer(join(dir, 'tokenizer.json')).vocabSize, v.size);
  }));

test('byte-level BPE: merges, special tokens in text, decode skips specials by default', () => {
  const t = new HfTokenizer({ tokenizerJson, tokenizerConfig });
  assert.deepEqual(t.encode('hello world'), [
    v.vocab['hello'],
    v.vocab['Ġwo'],
    v.vocab['r'],
    v.vocab['l'],
    v.vocab['d'],
  ]);
  assert.deepEqual(t.encode('hello', { addBos: true }), [v.vocab['hello']], 'no BOS token: addBos is a no-op');
  const chat = '<|im_start|>user\nhello<|im_end|><think>';
  const ids = t.encode(chat);
  assert.deepEqual(ids, [
    v.special['<|im_start|>'],
    v.vocab['u'],
    v.vocab['s'],
    v.vocab['e'],
    v.vocab['r'],
    v.vocab['Ċ'],
    v.vocab['hello'],
    v.special['<|im_end|>'],
    v.special['<think>'],
  ]);
  assert.equal(t.decode(ids), 'user\nhello<think>');
  assert.equal(t.decode(ids, { skipSpecialTokens: false }), chat);
  assert.equal(t.idToToken(v.vocab['Ġwo']), 'Ġwo');
  assert.equal(t.tokenToId('Ġwo'), v.vocab['Ġwo']);
});

test('token bytes invert the byte-level alphabet; StreamDecoder holds split characters back', () => {
  const t = new HfTokenizer({ tokenizerJson, tokenizerConfig });
  assert.deepEqual([...t.tokenBytes(v.vocab['Ġwo'])], [0x20, 0x77, 0x6f]);
  assert.deepEqual([...t.tokenBytes(v.special['<|im_end|>'])], [...Buffer.from('<|im_end|>')]);
  const ids = t.encode('é hello 🦙');
  assert.ok(ids.length >= 8);
  const s = new StreamDecoder(t);
  const out = ids.map((i) => s.push(i));
  assert.equal(out.join('') + s.flush(), 'é hello 🦙');
  assert.equal(out[0], '', 'first byte of é alone is not emitted');
  assert.equal(out[1], 'é');
  assert.equal(t.decode(ids), 'é hello 🦙');
});

test('chat template: generation prompt, tools, raise_exception, and a clear error without a template', () => {
  const t = new HfTokenizer({ tokenizerJson, tokenizerConfig });
  const messages = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ];
  assert.equal(
    t.applyChatTemplate(messages),
    '<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n',
  );
  assert.equal(t.applyChatTemplate(messages, { addGenerationPrompt: true }).slice(-22), '<|im_start|>assistant\n');
  assert.match(t.applyChatTemplate(messages, { tools: [{}, {}] }), /tools:2\n$/);
  assert.throws(
    () => t.applyChatTemplate([{ role: 'bad', content: '' }]),
    (e: unknown) => e instanceof GrpoError && /no bad roles/.test(e.message),
  );
  const bare = new HfTokenizer({ tokenizerJson });
  assert.equal(bare.chatTemplate, undefined);
  assert.throws(() => bare.applyChatTemplate(messages), /no chat template/);
  const listed = new HfTokenizer({
    tokenizerJson,
    tokenizerConfig: {
      chat_template: [
        { name: 'tool_use', template: 'T' },
        { name: 'default', template: 'D' },
      ],
    },
  });
  assert.equal(listed.applyChatTemplate(messages), 'D');
  const file = new HfTokenizer({ tokenizerJson, tokenizerConfig, chatTemplate: 'from file' });
  assert.equal(file.applyChatTemplate(messages), 'from file');
});

test('Llama-style tokenizer.json: post-processor BOS becomes the addBos default; SentencePiece pieces map to bytes', () => {
  const json = {
    version: '1.0',
    added_tokens: ['<unk>', '<s>', '</s>'].map((content, id) => ({
      id,
      content,
      special: true,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, '<0xC3>': 3, '<0xA9>': 4, '▁': 5, h: 6, i: 7, '▁h': 8, '▁hi': 9 },
      merges: ['▁ h', '▁h i'],
    },
  };
  const t = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' } });
  assert.equal(t.bosId, 1);
  assert.deepEqual(t.encode('hi hi'), [1, 9, 9]);
  assert.deepEqual(t.encode('hi', { addBos: false }), [9]);
  assert.deepEqual(t.encode('é', { addBos: false }), [5, 3, 4]);
  assert.deepEqual([...t.tokenBytes(9)], [0x20, 0x68, 0x69]);
  assert.deepEqual([...t.tokenBytes(3)], [0xc3]);
  assert.equal(t.decode(t.encode('hi hié')), 'hi hié');
});

test('GPT-2 vocabulary files (encoder.json + vocab.bpe) load as a byte-level BPE tokenizer', () =>
  withTempDir((dir) => {
    const vocab = { ...v.vocab, '<|endoftext|>': v.size - 4 };
    writeFileSync(join(dir, 'encoder.json'), JSON.stringify(vocab));
    writeFileSync(join(dir, 'vocab.bpe'), '#version: 0.2\n' + v.merges.join('\n') + '\n');
    const t = loadTokenizer(dir);
    assert.deepEqual(t.encode(' hello world'), [
      v.vocab['Ġhello'],
      v.vocab['Ġwo'],
      v.vocab['r'],
      v.vocab['l'],
      v.vocab['d'],
    ]);
    assert.equal(t.bosId, v.size - 4);
    assert.deepEqual(t.eosIds, [v.size - 4]);
    assert.deepEqual(t.encode('a<|endoftext|>'), [v.vocab['a'], v.size - 4]);
    assert.throws(() => loadTokenizer(join(dir, 'missing')), /does not exist/);
    assert.throws(() => byteLevelBpeTokenizerJson({}, [], { pre: 'klingon' }), /'klingon' is not supported/);
  }));
