// Multi-turn episodes on a rollout server: each turn asks for a continuation of the whole episode so far, as
// token ids (prompt, sampled and inserted tokens), with the stop strings of the tool format returned in the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIClient } from '../../src/rollout/openai-client.ts';
import { remoteEpisodes } from '../../src/rollout/remote-episodes.ts';
import { calculatorTool } from '../../src/rollout/tools/calculator.ts';
import { plainFormat } from '../../src/rollout/tools/tool-format.ts';
import { toolEnvironment } from '../../src/rollout/tools/environment.ts';
import type { AgentLoop } from '../../src/rollout/agent-loop.ts';

// a character "tokenizer": id = code point
const encode = (t: string) => [...t].map((c) => c.codePointAt(0)!);
const decode = (ids: number[]) => String.fromCodePoint(...ids);

test("remote episodes: the rollout server continues the episode's exact token ids; inserted tokens are masked and have no log-probs", async () => {
  const requests: { prompt: number[]; stop: string[]; include: boolean; max: number }[] = [];
  const fetchFn = (async (_url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init!.body));
    requests.push({
      prompt: body.prompt,
      stop: body.stop,
      include: body.include_stop_str_in_output,
      max: body.max_tokens,
    });
    // first turn: a calculator call; second turn: the answer read from the tool response
    const text = requests.length % 2 === 1 ? '<calculator>6*7</calculator>' : '<answer>42</answer>';
    const logprobs = {
      tokens: encode(text).map((id) => `token_id:${id}`),
      token_logprobs: encode(text).map(() => -0.25),
    };
    return new Response(JSON.stringify({ choices: [{ index: 0, text, finish_reason: 'stop', logprobs }] }), {
      status: 200,
    });
  }) as typeof fetch;
  const client = new OpenAIClient({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm', memoryCache: false, fetch: fetchFn });
  const tools = [calculatorTool()];
  const format = plainFormat(tools);
  const loop: AgentLoop = { environment: () => toolEnvironment(tools, format), format, maxTurns: 3, encode, decode };
  const handed: number[] = [];
  const prompt = encode('6*7=');
  const [c] = await remoteEpisodes(client, [prompt], { n: 1, maxTokens: 100, temperature: 1, seed: 5 }, loop, (p) =>
    handed.push(p),
  );
  const call = '<calculator>6*7</calculator>',
    response = '<tool_response>42</tool_response>',
    answer = '<answer>42</answer>';
  assert.equal(c.text, call + response + answer);
  assert.deepEqual(c.sampledMask, [
    ...encode(call).map(() => 1),
    ...encode(response).map(() => 0),
    ...encode(answer).map(() => 1),
  ]);
  assert.deepEqual(
    c.logprobs,
    c.sampledMask!.map((m) => (m ? -0.25 : 0)),
  );
  assert.equal(requests.length, 2);
  assert.deepEqual(requests[1].prompt, [...prompt, ...encode(call + response)], 'turn 2 continues the exact ids');
  assert.deepEqual(requests[0].stop, ['</calculator>']);
  assert.equal(requests[0].include, true);
  assert.equal(requests[1].max, 100 - encode(call + response).length, 'the budget covers the whole episode');
  assert.deepEqual(c.episode, { turns: 2, toolCalls: 1, toolErrors: 0, turnRewards: [] });
  assert.deepEqual(handed, [0]);
});
