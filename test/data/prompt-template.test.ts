import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptTemplate } from '../../src/data/templates.ts';
import type { Example } from '../../src/data/presets.ts';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { parseSftConfig } from '../../src/sft/config.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { tokenizePrompts } from '../../src/trainer/prompts.ts';
import { chatMlTemplate, tinySentencePieceVocab } from '../model/tokenizer-fixtures.ts';

function tokenizer(chatTemplate?: string): SentencePieceBpeTokenizer {
  const { pieces, scores } = tinySentencePieceVocab();
  return new SentencePieceBpeTokenizer({ pieces, scores, bosId: 1, eosIds: [2], unkId: 0, chatTemplate }, 'llama2c');
}

const example: Example = { id: '0', prompt: 'What is 2+3?', answer: '5' };
const data = { train: 'embedded:addition', template: 'chat', system: 'Answer briefly.' };

test('one example renders to the same chat prompt, system message included, through the SFT and the RL path', () => {
  const tok = tokenizer(chatMlTemplate);
  const sft = parseSftConfig({ data }, 'sft');
  const rl = validateTrainConfig({ model: { path: 'm' }, data }, 'train');
  // what runSft renders (src/sft/run.ts) and what the RL run renders before tokenizing (src/trainer/prompts.ts)
  const sftText = promptTemplate(sft.data.template, tok, { system: sft.data.system })(example);
  const rlText = promptTemplate(rl.data.template, tok, { system: rl.data.system })(example);
  assert.equal(sftText, rlText);
  assert.ok(sftText.includes('Answer briefly.') && sftText.includes('What is 2+3?'), sftText);
  // the RL run's prompt ids are that text's tokens: a chat template writes its own special tokens
  assert.deepEqual(tokenizePrompts([example], rl, tok).promptIds[0], tok.encode(sftText, { addBos: false }));
});

test("template 'chat' asked of a tokenizer without a chat template is one clear error, for SFT and RL alike", () => {
  const tok = tokenizer();
  const needs = /template 'chat' needs a tokenizer with a chat template; use template 'raw' or 'r1_zero'/;
  assert.throws(() => promptTemplate('chat', tok, { system: 'Answer briefly.' }), needs);
  assert.throws(
    () => tokenizePrompts([example], validateTrainConfig({ model: { path: 'm' }, data }, 'train'), tok),
    needs,
  );
});
