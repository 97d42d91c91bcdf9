/**
 * Local rollout servers (src/rollout/local-servers.ts): real `grpo serve` children that come up on free ports, end
 * with stop(), report a child that cannot start as one error with its stderr, and exit on their own when the
 * process that started them is killed with SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startLocalServers } from '../../src/rollout/local-servers.ts';
import { GrpoError } from '../../src/errors.ts';
import { alive, until } from './process-alive.ts';

test('two local servers of the embedded model come up on their own ports, answer /v1/models, and stop() ends them', async () => {
  const servers = await startLocalServers({ count: 2, model: 'embedded', threads: 1 });
  try {
    assert.equal(servers.urls.length, 2);
    assert.notEqual(servers.urls[0], servers.urls[1]);
    for (const url of servers.urls) {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const res = await fetch(`${url}/models`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { data: { id: string }[] };
      assert.deepEqual(
        body.data.map((d) => d.id),
        ['embedded'],
        '`grpo serve --model embedded` serves the shipped model',
      );
    }
    assert.ok(servers.pids.every(alive));
  } finally {
    await servers.stop();
  }
  assert.ok(!servers.pids.some(alive), 'stop() waits for the servers to exit');
  for (const url of servers.urls) await assert.rejects(fetch(`${url}/models`));
  await servers.stop(); // a second stop is harmless
});

test('a local server that cannot start is one error carrying its stderr, and the others are stopped', async () => {
  await assert.rejects(
    startLocalServers({ count: 2, model: path.join(import.meta.dirname, 'no-such-model'), threads: 1 }),
    (e: unknown) =>
      e instanceof GrpoError &&
      /^local rollout server \d of 2 exited \(code 1\) before listening: .*no-such-model does not exist/s.test(
        e.message,
      ),
  );
});

test('a local server exits when the process that started it is killed with SIGKILL', async () => {
  const parent = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'local-server-parent.ts'), 'embedded'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const parentExited = new Promise((r) => parent.once('exit', r));
  let server: { pid: number; url: string } | null = null;
  try {
    server = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d) => {
        out += String(d);
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before its server listened`)));
    });
    assert.equal((await fetch(`${server.url}/models`)).status, 200);
    parent.kill('SIGKILL');
    await parentExited;
    const pid = server.pid;
    assert.ok(await until(() => !alive(pid), 60_000), `the server (pid ${pid}) outlived its killed parent`);
    await assert.rejects(fetch(`${server.url}/models`));
  } finally {
    parent.kill('SIGKILL');
    if (server && alive(server.pid)) process.kill(server.pid, 'SIGKILL');
  }
});
