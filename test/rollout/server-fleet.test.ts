/**
 * A fleet of real `grpo serve` processes used as one: least-busy routing, a server killed mid-batch (every request
 * still answered exactly once), one that serves another model, one that cannot be reached, one that refuses weights.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerFleet } from '../../src/rollout/server-fleet.ts';
import { generateRemote } from '../../src/rollout/remote-generate.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder } from '../trainer/fixtures.ts';
import { startServeProcess, type ServeProcess } from './serve-process.ts';
import { serveModel } from '../serve/fixtures.ts';

const root = mkdtempSync(path.join(tmpdir(), 'grpo-fleet-'));
const modelDir = tinyModelFolder(root);
const processes: ServeProcess[] = [];
after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  rmSync(root, { recursive: true, force: true });
});

async function serve(): Promise<ServeProcess> {
  const p = await startServeProcess(modelDir);
  processes.push(p);
  return p;
}

const prompts = Array.from({ length: 12 }, (_, i) => [1, 40 + (i % 5), 41 + (i % 3)]);

test('two servers share a batch; a server killed mid-batch loses no completion and duplicates none', async () => {
  const [a, b] = await Promise.all([serve(), serve()]);
  const lines: string[] = [];
  const fleet = await ServerFleet.open({ urls: [a.baseUrl, b.baseUrl], concurrency: 2, log: (l) => lines.push(l) });
  try {
    const first = await generateRemote(fleet, prompts, { n: 2, maxTokens: 12, temperature: 1, seed: 1 });
    assert.equal(first.length, prompts.length * 2);
    const [sa, sb] = fleet.servers;
    assert.ok(sa.served > 0 && sb.served > 0, `both serve: ${sa.served} and ${sb.served}`);
    assert.equal(sa.served + sb.served, prompts.length);

    let killed: Promise<void> | null = null;
    const second = await generateRemote(fleet, prompts, { n: 2, maxTokens: 24, temperature: 1, seed: 2 }, () => {
      killed ??= b.kill();
    });
    await killed;
    const groups = new Map<number, number>();
    for (const c of second) groups.set(c.promptIndex, (groups.get(c.promptIndex) ?? 0) + 1);
    assert.deepEqual(
      [...groups.entries()].sort((x, y) => x[0] - y[0]),
      prompts.map((_, i) => [i, 2]),
    );
    assert.equal(fleet.servers[1].up, false);
    assert.ok(fleet.servers[1].failed >= 1, 'the killed server had requests in flight');
    assert.equal(fleet.servers[0].served + fleet.servers[1].served, 2 * prompts.length);
    assert.ok(
      lines.some((l) => l.includes(b.baseUrl) && l.includes('is out')),
      lines.join('\n'),
    );
  } finally {
    fleet.close();
  }
});

test('a server that serves another model, or cannot be reached, is one error naming it', async () => {
  const same = await serveModel(modelDir);
  const other = await serveModel(modelDir, { modelName: 'another-model' });
  try {
    await assert.rejects(
      ServerFleet.open({ urls: [same.baseUrl, other.baseUrl] }),
      (e: unknown) =>
        e instanceof GrpoError &&
        e.code === 'config' &&
        e.message.includes(other.baseUrl) &&
        e.message.includes("'another-model'"),
    );
    await assert.rejects(
      ServerFleet.open({
        urls: [same.baseUrl, 'http://127.0.0.1:1/v1'],
        client: { retry: { maxRetries: 1, initialDelayMs: 50 } },
      }),
      (e: unknown) => e instanceof GrpoError && e.message.includes('127.0.0.1:1/v1'),
    );
  } finally {
    await Promise.all([same.close(), other.close()]);
  }
});

test('a server that refuses a weight version gets no work that needs it; the others take it', async () => {
  const a = await serveModel(modelDir);
  const b = await serveModel(modelDir);
  const lines: string[] = [];
  const fleet = await ServerFleet.open({
    urls: [a.baseUrl, b.baseUrl],
    healthIntervalMs: 50,
    log: (l) => lines.push(l),
  });
  try {
    await fleet.broadcast(1, async (url) => {
      if (url === b.baseUrl) throw new Error('HTTP 400 shapes differ');
    });
    fleet.minVersion = 1;
    const out = await generateRemote(fleet, prompts, { n: 1, maxTokens: 4, temperature: 1, seed: 3 });
    assert.equal(out.length, prompts.length);
    assert.equal(fleet.servers[0].served, prompts.length);
    assert.equal(fleet.servers[1].served, 0);
    assert.equal(fleet.servers[1].version, 0);
    assert.ok(lines.some((l) => l.includes(b.baseUrl) && l.includes('refused policy version 1')));
    await assert.rejects(
      fleet.broadcast(2, async () => {
        throw new Error('disk full');
      }),
      (e: unknown) => e instanceof GrpoError && /no rollout server took policy version 2/.test(e.message),
    );
  } finally {
    fleet.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test('a server that answers 5xx to completions is taken out and its requests answered by the other, exactly once', async () => {
  const a = await serveModel(modelDir);
  const b = await serveModel(modelDir);
  // b behind a front that lists its model but answers every completion with 503, as an overloaded replica does
  const front = createServer(async (req, res) => {
    if (req.url?.endsWith('/completions')) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'overloaded' } }));
      return;
    }
    const r = await fetch(`${b.url}${req.url}`);
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(await r.text());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
  const lines: string[] = [];
  const fleet = await ServerFleet.open({
    urls: [frontUrl, a.baseUrl],
    client: { retry: { maxRetries: 0 } },
    healthIntervalMs: 60_000,
    log: (l) => lines.push(l),
  });
  try {
    const out = await generateRemote(fleet, prompts, { n: 2, maxTokens: 4, temperature: 1, seed: 4 });
    assert.deepEqual(
      prompts.map((_, i) => out.filter((c) => c.promptIndex === i).length),
      prompts.map(() => 2),
    );
    assert.equal(fleet.servers[0].served, 0);
    assert.ok(fleet.servers[0].failed >= 1);
    assert.equal(fleet.servers[1].served, prompts.length);
    assert.ok(
      lines.some((l) => l.startsWith(`rollout server ${frontUrl} is out`) && /503/.test(l)),
      lines.join('\n'),
    );
  } finally {
    fleet.close();
    front.close();
    await Promise.all([a.close(), b.close()]);
  }
});
