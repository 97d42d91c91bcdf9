// stream: true — server-sent events whose deltas concatenate to exactly the non-streamed answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post, sseEvents, withServer } from './fixtures.ts';

type Chunk = {
  object: string;
  id: string;
  choices: {
    index: number;
    delta?: { role?: string; content?: string };
    text?: string;
    logprobs: unknown;
    finish_reason: string | null;
  }[];
  usage?: unknown;
};

test('chat streaming: role chunk, content deltas, finish chunk per choice, [DONE]; deltas join to the full text', () =>
  withServer(async (s) => {
    const body = {
      messages: [{ role: 'user', content: 'hello' }],
      n: 2,
      max_tokens: 12,
      temperature: 1,
      seed: 21,
      stop: ['!'],
    };
    const full = await post(s, '/chat/completions', body);
    const streamed = await post(s, '/chat/completions', { ...body, stream: true });
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/);
    const chunks = sseEvents(streamed.text) as Chunk[];
    assert.ok(
      chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id && c.choices.length === 1),
    );
    for (const choice of full.json.choices) {
      const mine = chunks.map((c) => c.choices[0]).filter((c) => c.index === choice.index);
      assert.equal(mine[0].delta?.role, 'assistant');
      assert.equal(mine.map((c) => c.delta?.content ?? '').join(''), choice.message.content);
      assert.equal(mine[mine.length - 1].finish_reason, choice.finish_reason);
      assert.ok(mine.slice(0, -1).every((c) => c.finish_reason === null));
    }
  }));

test('chat streaming with logprobs carries each token once; include_usage adds a final usage chunk', () =>
  withServer(async (s) => {
    const body = {
      messages: [{ role: 'user', content: 'abc' }],
      max_tokens: 9,
      temperature: 0.8,
      seed: 2,
      logprobs: true,
      top_logprobs: 1,
    };
    const full = await post(s, '/chat/completions', body);
    const chunks = sseEvents(
      (await post(s, '/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } })).text,
    ) as Chunk[];
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, full.json.usage);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    const streamedLogprobs = chunks.flatMap(
      (c) => (c.choices[0]?.logprobs as { content: unknown[] } | null)?.content ?? [],
    );
    assert.deepEqual(streamedLogprobs, full.json.choices[0].logprobs.content);
  }));

test('completion streaming: text chunks join to the non-streamed text for every prompt and sample', () =>
  withServer(async (s) => {
    const body = { prompt: ['hello', 'ab'], n: 2, max_tokens: 10, temperature: 1.2, seed: 8, logprobs: 1 };
    const full = await post(s, '/completions', body);
    const chunks = sseEvents((await post(s, '/completions', { ...body, stream: true })).text) as Chunk[];
    assert.ok(chunks.every((c) => c.object === 'text_completion'));
    assert.equal(full.json.choices.length, 4);
    for (const choice of full.json.choices) {
      const mine = chunks.map((c) => c.choices[0]).filter((c) => c.index === choice.index);
      assert.equal(mine.map((c) => c.text).join(''), choice.text);
      assert.equal(mine[mine.length - 1].finish_reason, choice.finish_reason);
      const tokens = mine.flatMap((c) => (c.logprobs as { tokens: string[] } | null)?.tokens ?? []);
      assert.deepEqual(tokens, choice.logprobs.tokens);
    }
  }));

test('the decoder takes one step per event-loop turn: pieces become final as they come, other work runs between steps, an abort stops it', async () => {
  const { ServedModel } = await import('../../src/serve/served-model.ts');
  const { ContinuousBatcher } = await import('../../src/serve/continuous-batcher.ts');
  const { SerialQueue } = await import('../../src/serve/serial-queue.ts');
  const { tinyModel } = await import('./fixtures.ts');
  const opened = tinyModel();
  try {
    // a request decoding alone: a batcher of its own (the server's requests share one)
    const served = new ServedModel(opened.model, opened.tokenizer, 'tiny');
    const alone = new ContinuousBatcher(new SerialQueue(), served, () => false);
    const run = alone.submit.bind(alone);
    const request = {
      n: 1,
      maxTokens: 24,
      temperature: 1,
      topP: 1,
      topK: 0,
      minP: 0,
      seed: 3,
      stop: ['zz'],
      logprobs: false,
      topLogprobs: 0,
    };
    const prompt = [[1, 30, 31]];
    let turns = 0;
    const seen: { final: number; text: string; turnsBefore: number }[] = [];
    const done = await run(prompt, request, null, {
      onStep: (running) => {
        for (const { choice, final } of running)
          seen.push({ final, text: choice.pieces.slice(0, final).join(''), turnsBefore: turns });
        setImmediate(() => {
          turns++;
        });
      },
    });
    const whole = await run(prompt, request, null);
    assert.deepEqual(done, whole, 'the same answer as without a listener');
    const text = done![0].text;
    assert.ok(seen.length >= 5, `onStep ran after each step (${seen.length} times)`);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i].final >= seen[i - 1].final, 'final pieces never shrink');
      assert.ok(seen[i].turnsBefore > seen[i - 1].turnsBefore, 'the event loop turned between steps');
    }
    for (const x of seen) assert.ok(text.startsWith(x.text), `a final prefix '${x.text}' of '${text}'`);
    assert.ok(seen[seen.length - 1].final > 0, 'pieces became final before the end');

    const stop = new AbortController();
    let steps = 0;
    const aborted = await run(prompt, request, null, {
      signal: stop.signal,
      onStep: () => {
        if (++steps === 3) stop.abort();
      },
    });
    assert.equal(aborted, null);
    assert.equal(steps, 3, 'no step ran after the abort');
  } finally {
    opened.model.free();
  }
});

test('a streamed answer starts before the generation ends, and /health answers while a long request decodes', () =>
  withServer(async (s) => {
    const res = await fetch(`${s.baseUrl}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hello', n: 8, max_tokens: 56, temperature: 1, seed: 4, stream: true }),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstText = new TextDecoder().decode(first.value);
    assert.match(firstText, /^data: /);
    assert.ok(!firstText.includes('[DONE]'), 'the first bytes arrive while the generation still runs');
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    let rest = '';
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    assert.ok(rest.endsWith('data: [DONE]\n\n'));
  }));
