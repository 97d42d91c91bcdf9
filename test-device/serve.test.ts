// `grpo serve` on the device: concurrent requests decoded in one continuous batch answer what the CPU's server
// answers — the same sampled text (each request's own seed) and the same token log-probs within the suite's tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer, post } from '../test/serve/fixtures.ts';
import { DEVICE, SKIP, REL_TOL, relativeError } from './device-fixtures.ts';

const requests = [
  { prompt: 'the cat', max_tokens: 12, temperature: 1, seed: 4, logprobs: 1 },
  { prompt: 'a dog sat', max_tokens: 7, temperature: 0.7, top_p: 0.9, seed: 9, logprobs: 1 },
  { prompt: 'hello', max_tokens: 10, temperature: 0, logprobs: 1 },
];

async function answers(device: string) {
  return withServer(
    async (s) => {
      const replies = await Promise.all(requests.map((r) => post(s, '/completions', { model: 'tiny', ...r })));
      return replies.map((a) => {
        assert.equal(a.status, 200, a.text);
        const choice = a.json.choices[0];
        return { text: choice.text as string, logprobs: choice.logprobs.token_logprobs as number[] };
      });
    },
    // Mesa's software device compiles its kernels at first use for minutes, more on a loaded machine, and Node counts
    // that time against a request that arrived meanwhile (a 408 naming --request-timeout): an hour fits it
    { device, requestTimeout: 3600 },
  );
}

test(`${DEVICE}: grpo serve answers concurrent completions as the CPU's server does`, { skip: SKIP }, async () => {
  const [cpu, dev] = [await answers('cpu'), await answers(DEVICE)];
  assert.deepEqual(
    dev.map((a) => a.text),
    cpu.map((a) => a.text),
  );
  const e = relativeError(
    cpu.flatMap((a) => a.logprobs),
    dev.flatMap((a) => a.logprobs),
  );
  assert.ok(e < REL_TOL, `log-probs off by ${e.toExponential(2)} (relative)`);
  assert.ok(cpu.every((a) => a.logprobs.length > 0));
});
