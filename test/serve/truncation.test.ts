// With --truncate-prompts, prompts longer than the context minus max_tokens are cut from the left, keeping BOS, and the
// cut is reported (without it they are a 400: context-length.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitPrompt, plainChatPrompt, MAX_CHARS_PER_TOKEN, MIN_KEPT_CHARS } from '../../src/serve/prompt.ts';
import { TRUNCATION_HEADER } from '../../src/serve/completion-handler.ts';
import { CONTEXT, post, withServer, type TestServer } from './fixtures.ts';

/** A test server started with --truncate-prompts. */
const withTruncatingServer = <T>(fn: (s: TestServer) => Promise<T>) => withServer(fn, { truncatePrompts: true });

test('fitPrompt keeps a leading BOS and the newest tokens', () => {
  assert.deepEqual(fitPrompt([1, 5, 6, 7, 8], 10, 1), { tokens: [1, 5, 6, 7, 8], truncated: 0 });
  assert.deepEqual(fitPrompt([1, 5, 6, 7, 8], 3, 1), { tokens: [1, 7, 8], truncated: 2 });
  assert.deepEqual(fitPrompt([4, 5, 6, 7, 8], 3, 1), { tokens: [6, 7, 8], truncated: 2 }, 'no BOS to keep');
  assert.deepEqual(fitPrompt([1, 5, 6], 1, 1), { tokens: [6], truncated: 2 }, 'room for one token: the newest');
});

test('a long completion prompt is answered as its left-truncated token ids would be, and the cut is reported', () =>
  withTruncatingServer(async (s) => {
    const { tokenizer } = s.opened;
    const prompt = 'hello abc '.repeat(40);
    const ids = tokenizer.encode(prompt);
    assert.ok(ids.length > CONTEXT, 'the prompt is longer than the whole context');
    const maxTokens = 8;
    const body = { max_tokens: maxTokens, temperature: 1, seed: 3 };
    const long = await post(s, '/completions', { ...body, prompt });
    assert.equal(long.status, 200, long.text);
    const kept = [ids[0], ...ids.slice(ids.length - (CONTEXT - maxTokens - 1))];
    const dropped = ids.length - kept.length;
    assert.equal(ids[0], 1, 'BOS');
    assert.equal(long.headers.get(TRUNCATION_HEADER), String(dropped));
    assert.equal(long.json.truncated_prompt_tokens, dropped);
    assert.equal(long.json.usage.prompt_tokens, CONTEXT - maxTokens);
    const same = await post(s, '/completions', { ...body, prompt: kept });
    assert.equal(same.json.choices[0].text, long.json.choices[0].text);
    assert.equal(same.headers.get(TRUNCATION_HEADER), null);
    assert.equal(same.json.truncated_prompt_tokens, undefined);
    assert.match(s.logs.join('\n'), new RegExp(`cut by ${dropped} from the left`));
  }));

test('a long chat prompt (a critic-sized system prompt) is truncated too, also when streamed', () =>
  withTruncatingServer(async (s) => {
    const system = 'You are a careful critic of answers. '.repeat(60);
    const messages = [
      { role: 'system', content: system },
      { role: 'user', content: 'hello' },
    ];
    const r = await post(s, '/chat/completions', { messages, max_tokens: 10, seed: 1 });
    assert.equal(r.status, 200, r.text);
    const total = s.opened.tokenizer.encode(plainChatPrompt(messages)).length;
    assert.equal(r.json.truncated_prompt_tokens, total - (CONTEXT - 10));
    const streamed = await post(s, '/chat/completions', { messages, max_tokens: 10, seed: 1, stream: true });
    assert.equal(streamed.headers.get(TRUNCATION_HEADER), String(total - (CONTEXT - 10)));
    // without max_tokens a chat request gets at most half the context, so a long prompt still fits
    const dflt = await post(s, '/chat/completions', { messages, temperature: 0 });
    assert.equal(dflt.status, 200, dflt.text);
    assert.ok(dflt.json.usage.completion_tokens <= CONTEXT / 2);
  }));

test('max_tokens that leaves no room for a prompt is a 400 naming the field', () =>
  withTruncatingServer(async (s) => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const r = await post(s, '/chat/completions', { messages: [{ role: 'user', content: 'x' }], [field]: CONTEXT });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.param, field);
      assert.match(r.json.error.message, new RegExp(`at most ${CONTEXT - 1}`));
    }
    const ok = await post(s, '/completions', { prompt: 'hello abc hello', max_tokens: CONTEXT - 1, temperature: 0 });
    assert.equal(ok.status, 200, ok.text);
  }));

test('a prompt of megabytes is cut as text before it is tokenised: answered at once, as its kept tail would be', () =>
  withTruncatingServer(async (s) => {
    const huge = 'hello abc '.repeat(3_000_000); // 30 MB; the tiny model's context keeps 64 tokens
    const t0 = performance.now();
    const r = await post(s, '/completions', { prompt: huge, max_tokens: 4, temperature: 0 });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(r.status, 200, r.text);
    assert.ok(seconds < 5, `answered in ${seconds.toFixed(1)} s`);
    const tail = await post(s, '/completions', {
      prompt: huge.slice(huge.length - Math.max(CONTEXT * MAX_CHARS_PER_TOKEN, MIN_KEPT_CHARS)),
      max_tokens: 4,
      temperature: 0,
    });
    assert.equal(r.json.choices[0].text, tail.json.choices[0].text);
  }));
