// The pure pieces of the server: the plain chat fallback, completion text split per token with stop strings,
// top-k selection, token strings, and the one-at-a-time queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import { completionText, firstStop } from '../../src/serve/completion-text.ts';
import { plainChatPrompt } from '../../src/serve/prompt.ts';
import { SerialQueue } from '../../src/serve/serial-queue.ts';
import { tokenString, topIndices } from '../../src/serve/served-choices.ts';
import { tinySentencePieceVocab } from '../model/tokenizer-fixtures.ts';

const { pieces, scores } = tinySentencePieceVocab();
const tok = new SentencePieceBpeTokenizer({ pieces, scores, bosId: 1, eosIds: [2], unkId: 0 }, 'llama2c');
const id = (piece: string) => pieces.indexOf(piece);
const byte = (b: number) => b + 3;

test('the plain chat prompt: one "role: content" line per message, then "assistant:"', () => {
  assert.equal(
    plainChatPrompt([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]),
    'system: Be brief.\nuser: Hi\nassistant:',
  );
});

test('completion text: pieces join to the text; a stop string cuts it and the tokens after it', () => {
  const tokens = [id(' hello'), id('!'), id(' ab'), id('c'), 2];
  const all = completionText(tok, 5, tokens, []);
  assert.equal(all.text, ' hello! abc');
  assert.deepEqual(all.pieces, [' hello', '!', ' ab', 'c', '']);
  assert.deepEqual(all.offsets, [0, 6, 7, 10, 11]);
  assert.equal(all.keptTokens, 5, 'the end-of-sequence token is kept (its log-prob is reported)');
  assert.equal(all.stopped, false);
  // after BOS the first piece loses its dummy-prefix space, as in decode(prompt + completion)
  assert.equal(completionText(tok, 1, tokens, []).text, 'hello! abc');

  const cut = completionText(tok, 5, tokens, ['b', '!']);
  assert.equal(cut.text, ' hello');
  assert.deepEqual(cut.pieces, [' hello']);
  assert.equal(cut.stopped, true);
  // a stop string inside a token keeps that token, cut short
  const inside = completionText(tok, 5, tokens, ['ell']);
  assert.deepEqual([inside.text, inside.pieces, inside.keptTokens], [' h', [' h'], 1]);
  assert.equal(firstStop('abcabc', ['c', 'b']), 1);
  // include_stop_str_in_output (vLLM): the text runs through the stop string, with the tokens that wrote it
  const kept = completionText(tok, 5, tokens, ['b', '!'], true);
  assert.deepEqual([kept.text, kept.pieces, kept.keptTokens, kept.stopped], [' hello!', [' hello', '!'], 2, true]);
  const within = completionText(tok, 5, tokens, ['ell'], true);
  assert.deepEqual([within.text, within.keptTokens], [' hell', 1]);
});

test('completion text holds the bytes of a character split over tokens until it is complete', () => {
  const euro = [...Buffer.from('€')].map(byte);
  const t = completionText(tok, 5, [id('a'), ...euro, id('b')], []);
  assert.equal(t.text, 'a€b');
  assert.deepEqual(t.pieces, ['a', '', '', '€', 'b']);
  assert.deepEqual(t.pieces.join(''), t.text);
  const unfinished = completionText(tok, 5, [id('a'), euro[0]], []);
  assert.equal(unfinished.text, 'a\ufffd', 'an unfinished character at the end is U+FFFD, on the last token');
  assert.deepEqual(unfinished.pieces, ['a', '\ufffd']);
});

test('token strings: text, or "bytes:\\x.." for part of a character', () => {
  assert.equal(tokenString([...Buffer.from(' hé')]), ' hé');
  assert.equal(tokenString([0xe2, 0x82]), 'bytes:\\xe2\\x82');
});

test('topIndices: the k largest, largest first, ties by index', () => {
  const v = Float32Array.from([0.1, 3, -1, 3, 2, 0.5]);
  assert.deepEqual(topIndices(v, 3), [1, 3, 4]);
  assert.deepEqual(topIndices(v, 1), [1]);
  assert.deepEqual(topIndices(v, 6), [1, 3, 4, 5, 0, 2]);
});

test('SerialQueue runs jobs one at a time in arrival order, and a failing job does not stop the queue', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let running = 0;
  const job =
    (name: string, fail = false) =>
    async () => {
      running++;
      assert.equal(running, 1, 'never two at once');
      log.push(`start ${name}`);
      await new Promise((r) => setImmediate(r));
      log.push(`end ${name}`);
      running--;
      if (fail) throw new Error(name);
      return name;
    };
  const results = await Promise.allSettled([q.run(job('a')), q.run(job('b', true)), q.run(job('c'))]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  await q.idle();
  assert.equal(q.size, 0);
});
