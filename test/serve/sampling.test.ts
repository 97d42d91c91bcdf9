// Sampling options through the server: seeds, n, stop strings, and log-probs that are the embedded model's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../../src/rollout/generate.ts';
import { plainChatPrompt } from '../../src/serve/prompt.ts';
import { tokenString } from '../../src/serve/served-choices.ts';
import { chatMlTemplate } from '../model/tokenizer-fixtures.ts';
import { post, withServer } from './fixtures.ts';

const messages = [{ role: 'user', content: 'hello abc' }];

test('the same seed gives the same samples; other seeds and unseeded requests differ', () =>
  withServer(async (s) => {
    const ask = (extra: object) =>
      post(s, '/chat/completions', { messages, n: 4, max_tokens: 8, temperature: 1, ...extra });
    const texts = (r: Awaited<ReturnType<typeof ask>>) =>
      r.json.choices.map((c: { message: { content: string } }) => c.message.content);
    const a = texts(await ask({ seed: 3 }));
    assert.deepEqual(texts(await ask({ seed: 3 })), a);
    assert.notDeepEqual(texts(await ask({ seed: 4 })), a);
    assert.ok(new Set(a).size > 1, 'the n samples of one request are independent draws');
    // requests without a seed get fresh seeds from the server
    assert.notDeepEqual(texts(await ask({})), texts(await ask({})));
  }));

test('chat log-probs are the embedded generate() log-probs for the same prompt, seed and options', () =>
  withServer(async (s) => {
    const { model, tokenizer } = s.opened;
    const opts = { n: 3, maxTokens: 10, temperature: 0.7, topP: 0.9, topK: 40, minP: 0.01, seed: 12 };
    const r = await post(s, '/chat/completions', {
      messages,
      n: 3,
      max_tokens: 10,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.01,
      seed: 12,
      logprobs: true,
      top_logprobs: 3,
    });
    assert.equal(r.status, 200, r.text);
    const prompt = tokenizer.encode(plainChatPrompt(messages));
    const lib = generate(model, [prompt], opts);
    r.json.choices.forEach(
      (
        c: {
          logprobs: {
            content: { token: string; logprob: number; bytes: number[]; top_logprobs: { logprob: number }[] }[];
          };
        },
        i: number,
      ) => {
        const content = c.logprobs.content;
        assert.equal(content.length, lib[i].tokens.length);
        content.forEach((t, k) => {
          assert.equal(t.logprob, lib[i].logprobs[k], `choice ${i} token ${k}`);
          const prev = k === 0 ? prompt[prompt.length - 1] : lib[i].tokens[k - 1];
          assert.deepEqual(t.bytes, Array.from(tokenizer.tokenBytes(lib[i].tokens[k], prev)));
          assert.equal(t.token, tokenString(t.bytes));
          assert.equal(t.top_logprobs.length, 3);
          assert.ok(
            t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob &&
              t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob,
          );
          // alternatives come from a teacher-forced pass at the same temperature: the chosen token is never likelier than the best
          assert.ok(t.logprob <= t.top_logprobs[0].logprob + 1e-4);
        });
      },
    );
  }));

test('completion log-probs (legacy integer logprobs) match generate(); greedy picks the top alternative', () =>
  withServer(async (s) => {
    const { model, tokenizer } = s.opened;
    const r = await post(s, '/completions', { prompt: 'hello', max_tokens: 8, temperature: 0, logprobs: 2 });
    assert.equal(r.status, 200, r.text);
    const prompt = tokenizer.encode('hello');
    const [lib] = generate(model, [prompt], { maxTokens: 8, temperature: 0 });
    const lp = r.json.choices[0].logprobs;
    assert.deepEqual(lp.token_logprobs, lib.logprobs.slice(0, lp.tokens.length));
    assert.equal(lp.tokens.length, lib.tokens.length);
    assert.equal(lp.text_offset[0], 0);
    lp.top_logprobs.forEach((top: Record<string, number>, k: number) => {
      const best = Math.max(...Object.values(top));
      assert.ok(Math.abs(best - lp.token_logprobs[k]) < 1e-4, `greedy token ${k} is the most likely`);
    });
    // logprobs: 0 gives the sampled tokens' log-probs without alternatives
    const bare = await post(s, '/completions', { prompt: 'hello', max_tokens: 8, temperature: 0, logprobs: 0 });
    assert.deepEqual(bare.json.choices[0].logprobs.token_logprobs, lp.token_logprobs);
    assert.equal(bare.json.choices[0].logprobs.top_logprobs, null);
  }));

test('stop strings end the text before the stop string, with finish_reason stop', () =>
  withServer(async (s) => {
    const body = { prompt: 'abc', max_tokens: 20, temperature: 1, seed: 5, logprobs: 0 };
    const free = (await post(s, '/completions', body)).json.choices[0];
    // a character from the middle of the free-running text, as a stop string
    const text: string = free.text;
    const at = [...text].findIndex((ch, i) => i >= 3 && /[a-z!]/.test(ch));
    assert.ok(at >= 0, `no usable stop character in ${JSON.stringify(text)}`);
    const stop = [...text][at];
    for (const form of [stop, ['zzzz', stop]]) {
      const cut = (await post(s, '/completions', { ...body, stop: form })).json.choices[0];
      assert.equal(cut.text, text.slice(0, text.indexOf(stop)));
      assert.equal(cut.finish_reason, 'stop');
      assert.ok(!cut.text.includes(stop));
      // log-probs cover the tokens that start before the stop string: a prefix of the free run's
      const kept = cut.logprobs.tokens.length;
      assert.ok(kept >= 1 && kept <= free.logprobs.tokens.length);
      assert.deepEqual(cut.logprobs.token_logprobs, free.logprobs.token_logprobs.slice(0, kept));
      assert.ok(cut.logprobs.text_offset.every((o: number) => o < cut.text.length));
      assert.ok(kept === free.logprobs.tokens.length || free.logprobs.text_offset[kept] >= cut.text.length);
    }
    const chat = await post(s, '/chat/completions', {
      messages,
      max_tokens: 20,
      seed: 5,
      stop: ['a', 'b', 'c', 'e', 'l', 'o', 'h'],
    });
    assert.ok(!/[abcelho]/.test(chat.json.choices[0].message.content));
  }));

test("a tokenizer's chat template renders the messages, with the generation prompt", () =>
  withServer(
    async (s) => {
      const { tokenizer } = s.opened;
      assert.equal(tokenizer.chatTemplate, chatMlTemplate);
      const r = await post(s, '/chat/completions', { messages, max_tokens: 2, temperature: 0 });
      assert.equal(r.status, 200, r.text);
      const rendered = '<|im_start|>user\nhello abc<|im_end|>\n<|im_start|>assistant\n';
      assert.equal(r.json.usage.prompt_tokens, tokenizer.encode(rendered).length);
      // the template's raise_exception is the client's fault: 400 naming messages
      const bad = await post(s, '/chat/completions', { messages: [{ role: 'bad', content: 'x' }], max_tokens: 2 });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.param, 'messages');
      assert.match(bad.json.error.message, /no bad roles/);
    },
    { chatTemplate: true },
  ));
