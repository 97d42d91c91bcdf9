// Both methods through their configs and the real HTTP client, against a tiny OpenAI-compatible server on
// 127.0.0.1 that plays task model, critic and reflection model (routing on the prompt). No model is named in
// the configs: the client asks GET /models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gepaCommand } from '../../src/trainingfree/gepa/cli.ts';
import { tfgrpoCommand } from '../../src/trainingfree/tfgrpo/cli.ts';
import { criticStage } from './scripted-models.ts';
import type { ChatMessage } from '../../src/rollout/chat-model.ts';

const LESSON = 'Reply with the number only.';

function reply(messages: ChatMessage[], k: number): string {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
  if (user.includes('Current instructions:')) return '```\n' + LESSON + '\n```'; // GEPA reflection
  if (system.includes('frozen language model')) {
    const stage = criticStage(messages);
    if (stage === 'summary') return 'It padded the number with words.';
    if (stage === 'critique') return `<experiences>\n1. ${LESSON}\n</experiences>`;
    return '```json\n[{"operation": "ADD", "content": "' + LESSON + '"}]\n```';
  }
  const [, a, b] = /(\d+)\+(\d+)/.exec(user)!;
  const sum = String(Number(a) + Number(b));
  return system.includes('number only') || k % 2 === 1 ? sum : `The sum is ${sum}.`;
}

async function startServer(): Promise<{ server: Server; url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/v1/models') return res.end(JSON.stringify({ object: 'list', data: [{ id: 'scripted' }] }));
      const body = JSON.parse(data) as { model: string; messages: ChatMessage[]; n?: number };
      assert.equal(body.model, 'scripted');
      const choices = Array.from({ length: body.n ?? 1 }, (_, k) => ({
        index: k,
        message: { role: 'assistant', content: reply(body.messages, k) },
        finish_reason: 'stop',
      }));
      res.end(JSON.stringify({ choices, usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, paths };
}

function writeData(dir: string): void {
  const rows = (pairs: number[][]) =>
    pairs.map(([a, b]) => JSON.stringify({ question: `What is ${a}+${b}?`, answer: a + b })).join('\n');
  writeFileSync(
    join(dir, 'train.jsonl'),
    rows([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]),
  );
  writeFileSync(
    join(dir, 'test.jsonl'),
    rows([
      [2, 2],
      [10, 20],
      [6, 1],
    ]),
  );
}

test('tfgrpo and gepa complete over HTTP and report held-out scores before and after', async () => {
  const { server, url, paths } = await startServer();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'tf-http-'));
    writeData(dir);
    writeFileSync(
      join(dir, 'tfgrpo.yaml'),
      `task: { train: train.jsonl, test: test.jsonl, metric: exact_match }\ntask_model: { base_url: "${url}" }\nbatch_size: 2\ngrpo_n: 2\nout_dir: .\n`,
    );
    const tf = await tfgrpoCommand(join(dir, 'tfgrpo.yaml'), { quiet: true, overrides: ['--name', 'out-tfgrpo'] });
    assert.deepEqual([tf.before?.mean, tf.after?.mean], [0, 1]);
    assert.deepEqual(tf.library.toRecord(), { G0: LESSON });
    assert.ok(existsSync(join(dir, 'out-tfgrpo', 'library.json')));

    writeFileSync(
      join(dir, 'gepa.yaml'),
      `task: { train: train.jsonl, test: test.jsonl, metric: exact_match }\ntask_model: { base_url: "${url}" }\nprogram: { components: { instructions: "Add the numbers." } }\nmax_metric_calls: 16\nout_dir: .\nname: out-gepa\n`,
    );
    const g = await gepaCommand(join(dir, 'gepa.yaml'), { quiet: true });
    assert.deepEqual(g.heldout, { seed: 0, best: 1, examples: 3 });
    assert.deepEqual(g.bestProgram, { instructions: LESSON });
    assert.ok(existsSync(join(dir, 'out-gepa', 'result.json')));
    assert.ok(paths.includes('/v1/models') && paths.includes('/v1/chat/completions'));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
