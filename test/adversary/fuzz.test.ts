/**
 * Seeded fuzzing, bounded in time and local only: whatever a client sends `grpo serve`, and whatever a config
 * holds, the answer is a clean result or one clear error — never a crash, a stack trace or a hung server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.ts';
import { GrpoError } from '../../src/errors.ts';
import { validateTrainConfig } from '../../src/trainer/config/load.ts';
import { resolveAlgorithm } from '../../src/trainer/config/presets.ts';
import { withServer } from '../serve/fixtures.ts';

/** A random JSON value: scalars of every type, odd strings, nested arrays and objects. */
function randomValue(rng: Rng, depth = 0): unknown {
  const strings = [
    '',
    'x',
    'hello',
    '\u0000',
    '💥',
    'a'.repeat(300),
    '<|im_start|>',
    'NaN',
    '-1',
    '1e309',
    'system',
    'user',
  ];
  const numbers = [0, -1, 1, 0.5, 2 ** 31, -(2 ** 53), 1e308, 1e-300, 7, 64, 1000];
  switch (rng.int(depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.int(2) === 0;
    case 2:
      return numbers[rng.int(numbers.length)];
    case 3:
      return strings[rng.int(strings.length)];
    case 4:
      return rng.int(50);
    case 5:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, () => [
          strings[rng.int(strings.length)] || 'k',
          randomValue(rng, depth + 1),
        ]),
      );
  }
}

const CHAT_FIELDS = [
  'messages',
  'model',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'n',
  'seed',
  'stop',
  'logprobs',
  'top_logprobs',
  'stream',
  'stream_options',
];
const TEXT_FIELDS = [
  'prompt',
  'model',
  'max_tokens',
  'temperature',
  'top_p',
  'n',
  'seed',
  'stop',
  'logprobs',
  'echo',
  'stream',
];

/** A mostly valid request with a few fields replaced by random values. */
function randomRequest(rng: Rng, chat: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = chat
    ? { messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }
    : { prompt: 'hello', max_tokens: 4 };
  const fields = chat ? CHAT_FIELDS : TEXT_FIELDS;
  for (let k = 1 + rng.int(3); k > 0; k--) body[fields[rng.int(fields.length)]] = randomValue(rng);
  // keep every generation short: the point is the input handling
  if (typeof body.max_tokens === 'number' && body.max_tokens > 8) body.max_tokens = 8;
  if (typeof body.n === 'number' && body.n > 4) body.n = rng.int(2) === 0 ? body.n : 4;
  return body;
}

test('grpo serve answers 300 random requests with 200 or a 4xx JSON error, refuses random admin requests cleanly, and stays up', () =>
  withServer(
    async (s) => {
      const rng = new Rng(2026);
      const statuses = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const chat = rng.int(2) === 0;
        const raw =
          rng.int(10) === 0
            ? ['{', '[]', 'null', '{"messages": ', '\u0000', '"x"'][rng.int(6)]
            : JSON.stringify(randomRequest(rng, chat));
        const res = await fetch(`${s.baseUrl}/${chat ? 'chat/completions' : 'completions'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: raw,
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(
          [200, 400, 404, 413].includes(res.status),
          `request ${i} (${raw.slice(0, 200)}) → ${res.status}: ${text.slice(0, 300)}`,
        );
        if (res.status !== 200) {
          const err = JSON.parse(text) as { error: { message: string; type: string } };
          assert.ok(
            err.error.message && !err.error.message.includes('    at '),
            `request ${i}: one clear message, got ${text.slice(0, 300)}`,
          );
        } else if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
          assert.ok(Array.isArray(JSON.parse(text).choices), `request ${i}: a completion body`);
        } else {
          assert.ok(text.endsWith('data: [DONE]\n\n'), `request ${i}: a complete stream`);
        }
      }
      assert.ok(
        (statuses.get(200) ?? 0) > 20 && (statuses.get(400) ?? 0) > 20,
        `both outcomes exercised: ${JSON.stringify([...statuses])}`,
      );
      // the admin routes (weight and adapter loading) with random bodies: refused cleanly, the served model unchanged
      const before = (await (
        await fetch(`${s.baseUrl}/completions`, {
          method: 'POST',
          body: JSON.stringify({ prompt: 'hello', max_tokens: 6, temperature: 0 }),
        })
      ).json()) as { choices: { text: string }[] };
      for (let i = 0; i < 60; i++) {
        const route = ['/v1/load_lora_adapter', '/v1/unload_lora_adapter', '/update_weights_from_disk'][rng.int(3)];
        const body =
          rng.int(2) === 0
            ? randomValue(rng)
            : { lora_name: randomValue(rng), lora_path: randomValue(rng), model_path: randomValue(rng) };
        const res = await fetch(`${s.url}${route}`, { method: 'POST', body: JSON.stringify(body) });
        const text = await res.text();
        assert.ok(
          [400, 404].includes(res.status),
          `${route} ${JSON.stringify(body).slice(0, 200)} → ${res.status}: ${text.slice(0, 300)}`,
        );
        // OpenAI's error shape, or SGLang's {success: false, message} on its weight-update route
        const answer = JSON.parse(text) as { error?: { message: string }; success?: boolean; message?: string };
        const message = answer.error?.message ?? (answer.success === false ? answer.message : undefined);
        assert.ok(message && !message.includes('    at '), `${route}: ${text.slice(0, 300)}`);
      }
      const after = (await (
        await fetch(`${s.baseUrl}/completions`, {
          method: 'POST',
          body: JSON.stringify({ prompt: 'hello', max_tokens: 6, temperature: 0 }),
        })
      ).json()) as { choices: { text: string }[] };
      assert.deepEqual(after.choices[0].text, before.choices[0].text);
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      assert.ok(!s.logs.some((l) => l.startsWith('internal error')), s.logs.join('\n'));
    },
    { allowRuntimeUpdates: true },
  ));

test('500 randomly corrupted configs are either valid or refused with one GrpoError line', () => {
  const rng = new Rng(11);
  const base = () =>
    ({
      model: { path: 'embedded' },
      data: { train: 'embedded:addition' },
      rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 16 },
      algorithm: { preset: 'grpo' },
      training: { steps: 2 },
    }) as Record<string, Record<string, unknown>>;
  const keys: [string, string][] = [
    ['rollout', 'group_size'],
    ['rollout', 'max_tokens'],
    ['rollout', 'temperature'],
    ['rollout', 'top_p'],
    ['rollout', 'prompts_per_step'],
    ['algorithm', 'preset'],
    ['algorithm', 'epsilon'],
    ['algorithm', 'kl_beta'],
    ['algorithm', 'gfpo_keep'],
    ['algorithm', 'kl_estimator'],
    ['training', 'steps'],
    ['training', 'save_every'],
    ['training', 'save_minutes'],
    ['optimizer', 'lr'],
    ['model', 'lora'],
    ['model', 'precision'],
    ['data', 'max_prompt_tokens'],
    ['training', 'micro_batch_groups'],
  ];
  let valid = 0,
    refused = 0;
  for (let i = 0; i < 500; i++) {
    const cfg = base();
    for (let k = 1 + rng.int(3); k > 0; k--) {
      const [section, key] = keys[rng.int(keys.length)];
      (cfg[section] ??= {})[key] = randomValue(rng);
    }
    try {
      const c = validateTrainConfig(cfg);
      resolveAlgorithm(c.algorithm, { groupSize: c.rollout.group_size, maxTokens: c.rollout.max_tokens });
      valid++;
    } catch (e) {
      assert.ok(e instanceof GrpoError, `config ${JSON.stringify(cfg)} threw ${(e as Error)?.stack}`);
      assert.ok(e.message.length > 10 && !e.message.includes('\n'), `one line: ${e.message}`);
      refused++;
    }
  }
  assert.ok(valid > 20 && refused > 100, `${valid} valid, ${refused} refused`);
});
