// The routes of `grpo serve` and the OpenAI shapes they answer with, on a tiny random model over real HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { plainChatPrompt } from '../../src/serve/prompt.ts';
import { CONTEXT, get, post, withServer } from './fixtures.ts';

test('GET /v1/models lists the served model; /v1/models/{id} finds it or answers 404', () =>
  withServer(async (s) => {
    const list = await get(s, '/v1/models');
    assert.equal(list.status, 200);
    assert.equal(list.json.object, 'list');
    assert.deepEqual(
      list.json.data.map((m: { id: string; object: string; max_model_len: number }) => [
        m.id,
        m.object,
        m.max_model_len,
      ]),
      [['tiny', 'model', CONTEXT]],
    );
    assert.equal((await get(s, '/v1/models/tiny')).json.id, 'tiny');
    const missing = await get(s, '/v1/models/other');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.param, 'model');
    assert.equal((await get(s, '/health')).json.status, 'ok');
  }));

test('POST /v1/chat/completions: a chat.completion with n choices, finish reasons and usage', () =>
  withServer(async (s) => {
    const messages = [
      { role: 'system', content: 'be kind' },
      { role: 'user', content: 'hello' },
    ];
    const r = await post(s, '/chat/completions', {
      model: 'tiny',
      messages,
      n: 3,
      max_tokens: 5,
      temperature: 1,
      seed: 4,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.match(r.json.id, /^chatcmpl-/);
    assert.equal(r.json.model, 'tiny');
    assert.equal(typeof r.json.created, 'number');
    assert.deepEqual(
      r.json.choices.map((c: { index: number }) => c.index),
      [0, 1, 2],
    );
    for (const c of r.json.choices) {
      assert.equal(c.message.role, 'assistant');
      assert.equal(typeof c.message.content, 'string');
      assert.ok(['stop', 'length'].includes(c.finish_reason));
      assert.equal(c.logprobs, null);
    }
    // the plain fallback prompt (this tokenizer has no chat template), with BOS
    const promptTokens = s.opened.tokenizer.encode(plainChatPrompt(messages)).length;
    assert.equal(r.json.usage.prompt_tokens, promptTokens);
    assert.ok(r.json.usage.completion_tokens >= 3 && r.json.usage.completion_tokens <= 15);
    assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens + r.json.usage.completion_tokens);
    // max_completion_tokens is the newer name of max_tokens; greedy decoding of 7 tokens ends by length unless EOS
    const g = await post(s, '/chat/completions', { messages, max_completion_tokens: 7, temperature: 0 });
    assert.equal(g.status, 200, g.text);
    assert.ok(g.json.usage.completion_tokens <= 7);
    assert.equal(g.json.choices[0].finish_reason, g.json.usage.completion_tokens === 7 ? 'length' : 'stop');
  }));

test('POST /v1/completions: string, strings and token-id prompts; choices ordered prompt by prompt', () =>
  withServer(async (s) => {
    const one = await post(s, '/completions', { prompt: 'hello', max_tokens: 4, seed: 2 });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.object, 'text_completion');
    assert.match(one.json.id, /^cmpl-/);
    assert.equal(one.json.choices.length, 1);
    assert.equal(typeof one.json.choices[0].text, 'string');
    assert.equal(one.json.usage.prompt_tokens, s.opened.tokenizer.encode('hello').length);

    const many = await post(s, '/completions', { prompt: ['hello', 'abc'], n: 2, max_tokens: 4, seed: 2 });
    assert.equal(many.status, 200, many.text);
    assert.deepEqual(
      many.json.choices.map((c: { index: number }) => c.index),
      [0, 1, 2, 3],
    );
    assert.equal(
      many.json.usage.prompt_tokens,
      s.opened.tokenizer.encode('hello').length + s.opened.tokenizer.encode('abc').length,
    );

    // token ids give the same answer as the text they encode
    const ids = s.opened.tokenizer.encode('hello');
    const byIds = await post(s, '/completions', { prompt: ids, max_tokens: 4, seed: 2 });
    assert.equal(byIds.json.choices[0].text, one.json.choices[0].text);
    const byIdLists = await post(s, '/completions', { prompt: [ids, ids], max_tokens: 4, seed: 2 });
    assert.equal(byIdLists.json.choices.length, 2);
    // without max_tokens, OpenAI's legacy default of 16
    const dflt = await post(s, '/completions', { prompt: 'hello', temperature: 0 });
    assert.ok(dflt.json.usage.completion_tokens <= 16);
  }));

test("the repository's own OpenAI client works against the server (chat, completions, logprobs, model list)", () =>
  withServer(async (s) => {
    const models = await new OpenAIClient({ baseUrl: s.baseUrl, model: 'unused' }).listModels();
    assert.deepEqual(models, ['tiny']);
    const client = new OpenAIClient({ baseUrl: s.baseUrl, model: models[0], retry: { maxRetries: 0 } });
    const chat = await client.chat([{ role: 'user', content: 'hello' }], {
      n: 2,
      maxTokens: 6,
      temperature: 0.8,
      seed: 9,
      logprobs: true,
      topLogprobs: 2,
    });
    assert.equal(chat.choices.length, 2);
    for (const c of chat.choices) {
      assert.ok(c.logprobs && c.logprobs.length > 0);
      assert.ok(c.logprobs.every((t) => Number.isFinite(t.logprob) && t.topLogprobs?.length === 2));
    }
    const text = await client.complete('abc', { maxTokens: 5, temperature: 0, logprobs: true, topLogprobs: 3 });
    assert.equal(text.choices.length, 1);
    // legacy top_logprobs are keyed by token text, so tokens that read the same share one entry
    assert.ok(text.choices[0].logprobs!.every((t) => t.topLogprobs!.length >= 1 && t.topLogprobs!.length <= 3));
    // greedy: the chosen token is the most likely one
    assert.ok(text.choices[0].logprobs!.every((t) => t.logprob >= t.topLogprobs![0].logprob - 1e-4));
    assert.ok(text.usage && text.usage.completionTokens > 0);
  }));

test('unknown routes are 404 and wrong methods 405, in the OpenAI error shape', () =>
  withServer(async (s) => {
    const nope = await post(s, '/nope', {});
    assert.equal(nope.status, 404);
    assert.equal(nope.json.error.type, 'not_found_error');
    assert.match(nope.json.error.message, /no route POST \/v1\/nope/);
    const wrong = await get(s, '/v1/chat/completions');
    assert.equal(wrong.status, 405);
    assert.match(wrong.json.error.message, /use POST/);
  }));
