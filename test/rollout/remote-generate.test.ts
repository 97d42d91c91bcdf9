import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { generateRemote } from '../../src/rollout/remote-generate.ts';

/** A scripted /completions endpoint: prompt [k] answers after k×30 ms with tokens "token_id:<k>…" */
function scriptedFetch(events: string[]): typeof fetch {
  return (async (_url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init!.body));
    const k = body.prompt[0] as number;
    assert.equal(body.return_tokens_as_token_ids, true);
    await new Promise((r) => setTimeout(r, k * 30));
    events.push(`response ${k}`);
    const choice = (i: number) => ({
      index: i,
      text: `t${k}`,
      finish_reason: i === 0 ? 'stop' : 'length',
      logprobs: { tokens: [`token_id:${k}`, `token_id:${k + 10}`], token_logprobs: [-0.5, -1.5] },
    });
    return new Response(JSON.stringify({ choices: [choice(0), choice(1)] }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;
}

test('remote rollouts: sampled ids come back from token_id strings, and each prompt is handed over as soon as it arrives', async () => {
  const events: string[] = [];
  const client = new OpenAIClient({
    baseUrl: 'http://127.0.0.1:1/v1',
    model: 'm',
    memoryCache: false,
    fetch: scriptedFetch(events),
  });
  const prompts = [[2], [0], [1]];
  const out = await generateRemote(client, prompts, { n: 2, maxTokens: 4, temperature: 1 }, (p, group) => {
    events.push(`handed ${p}`);
    const k = prompts[p][0];
    assert.deepEqual(
      group.map((c) => c.tokens),
      [
        [k, k + 10],
        [k, k + 10],
      ],
    );
  });
  // prompt 1 ([0]) answers first, prompt 2 ([1]) next, prompt 0 ([2]) last; each is handed over right after its response
  assert.deepEqual(events, ['response 0', 'handed 1', 'response 1', 'handed 2', 'response 2', 'handed 0']);
  assert.deepEqual(
    out.map((c) => [c.promptIndex, c.sampleIndex, c.tokens, c.finishReason]),
    [
      [0, 0, [2, 12], 'stop'],
      [0, 1, [2, 12], 'length'],
      [1, 0, [0, 10], 'stop'],
      [1, 1, [0, 10], 'length'],
      [2, 0, [1, 11], 'stop'],
      [2, 1, [1, 11], 'length'],
    ],
  );
  assert.deepEqual(out[0].logprobs, [-0.5, -1.5]);
});

test('a rollout server that does not return token ids is one clear error', async () => {
  const fetchText = (async () =>
    new Response(
      JSON.stringify({
        choices: [{ index: 0, text: 'x', finish_reason: 'stop', logprobs: { tokens: ['x'], token_logprobs: [-1] } }],
      }),
      { status: 200 },
    )) as typeof fetch;
  const client = new OpenAIClient({
    baseUrl: 'http://127.0.0.1:1/v1',
    model: 'm',
    memoryCache: false,
    fetch: fetchText,
  });
  await assert.rejects(
    generateRemote(client, [[1]], { n: 1, maxTokens: 2, temperature: 1 }),
    /must support return_tokens_as_token_ids/,
  );
});
