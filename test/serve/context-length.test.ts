// Without --truncate-prompts, a prompt that does not fit the context with its max_tokens is a 400 in vLLM's words
// (as vLLM answers), naming the prompt; one that fits exactly is served whole; a chat request without max_tokens gets
// the room its prompt leaves; and the trainer's rollout client gets the 400 as an error, never a silently cut prompt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpoError } from '../../src/errors.ts';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { completeTokens } from '../../src/rollout/remote-generate.ts';
import { TRUNCATION_HEADER } from '../../src/serve/completion-handler.ts';
import { plainChatPrompt } from '../../src/serve/prompt.ts';
import { CONTEXT, post, withServer } from './fixtures.ts';

const vllmWords = (requested: string) =>
  `This model's maximum context length is ${CONTEXT} tokens. However, you requested ${requested}`;

test('a completion prompt that with max_tokens passes the context is a 400 naming the prompt and both counts', () =>
  withServer(async (s) => {
    const prompt = 'hello abc '.repeat(4);
    const P = s.opened.tokenizer.encode(prompt).length;
    assert.ok(P > 4 && P < CONTEXT / 2, `a prompt of ${P} tokens`);
    const over = await post(s, '/completions', { prompt, max_tokens: CONTEXT - P + 1 });
    assert.equal(over.status, 400, over.text);
    assert.equal(over.json.error.param, 'prompt');
    assert.ok(
      over.json.error.message.startsWith(
        `${vllmWords(`${CONTEXT + 1} tokens (${P} in the prompt, ${CONTEXT - P + 1} in the completion)`)}. Please reduce the length of the prompt or completion`,
      ),
      over.json.error.message,
    );
    assert.match(over.json.error.message, /--truncate-prompts/, 'says how to have long prompts cut instead');

    const exact = await post(s, '/completions', { prompt, max_tokens: CONTEXT - P, ignore_eos: true });
    assert.equal(exact.status, 200, exact.text);
    assert.equal(exact.json.usage.prompt_tokens, P, 'the whole prompt was read');
    assert.equal(exact.json.usage.completion_tokens, CONTEXT - P);
    assert.equal(exact.headers.get(TRUNCATION_HEADER), null);

    const listed = await post(s, '/completions', { prompt: ['hello', prompt], max_tokens: CONTEXT - P + 1 });
    assert.equal(listed.status, 400);
    assert.equal(listed.json.error.param, 'prompt[1]');
    assert.match(listed.json.error.message, new RegExp(`\\(${P} in prompt\\[1\\], `));

    const ids = await post(s, '/completions', { prompt: new Array(CONTEXT).fill(5) });
    assert.equal(ids.status, 400);
    assert.ok(
      ids.json.error.message.startsWith(
        `${vllmWords(`${CONTEXT} tokens in the prompt`)}. Please reduce the length of the prompt`,
      ),
      ids.json.error.message,
    );
  }));

test('a chat request without max_tokens gets the room its prompt leaves; one that fills the context is a 400', () =>
  withServer(async (s) => {
    const messages = (words: number) => [{ role: 'user', content: 'hello abc '.repeat(words) }];
    const tokens = (words: number) => s.opened.tokenizer.encode(plainChatPrompt(messages(words))).length;
    let words = 1;
    while (tokens(words) <= CONTEXT / 2 + 4) words++;
    const P = tokens(words);
    const roomy = await post(s, '/chat/completions', { messages: messages(words), ignore_eos: true });
    assert.equal(roomy.status, 200, roomy.text);
    assert.equal(roomy.json.usage.prompt_tokens, P);
    assert.equal(roomy.json.usage.completion_tokens, CONTEXT - P, 'generated up to the end of the context');
    assert.equal(roomy.json.choices[0].finish_reason, 'length');

    while (tokens(words) < CONTEXT) words++;
    const full = await post(s, '/chat/completions', { messages: messages(words) });
    assert.equal(full.status, 400);
    assert.equal(full.json.error.param, 'messages');
    assert.ok(
      full.json.error.message.startsWith(
        `${vllmWords(`${tokens(words)} tokens in the messages`)}. Please reduce the length of the messages`,
      ),
      full.json.error.message,
    );
  }));

test("the trainer's rollout client gets an over-long prompt's 400 as an error naming the context", () =>
  withServer(async (s) => {
    const client = new OpenAIClient({ baseUrl: s.baseUrl, model: 'tiny', retry: { maxRetries: 0 } });
    const prompt = [1, ...new Array(CONTEXT - 4).fill(5)];
    await assert.rejects(
      completeTokens(client, prompt, { maxTokens: 8, temperature: 1, seed: 1 }),
      (e: unknown) =>
        e instanceof GrpoError &&
        e.message.includes(`maximum context length is ${CONTEXT} tokens`) &&
        e.message.includes(`${CONTEXT - 3} in the prompt, 8 in the completion`),
    );
    const fits = await completeTokens(client, prompt.slice(0, CONTEXT - 8), { maxTokens: 8, temperature: 1, seed: 1 });
    assert.equal(fits.choices.length, 1);
  }));
