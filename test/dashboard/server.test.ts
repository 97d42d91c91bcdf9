/** The dashboard server: which runs it finds, what its API returns, and that the page needs no network. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { startDashboard } from '../../src/dashboard/server.ts';
import { allowedHost } from '../../src/dashboard/host-check.ts';
import { GrpoError } from '../../src/errors.ts';

const root = mkdtempSync(path.join(tmpdir(), 'grpo-dash-'));
const put = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};
put('a/metrics.jsonl', '{"step":1,"reward":0.5}\n{"step":2,"reward":0.7}\n');
put('a/config.yaml', 'name: a\n');
put('a/completions.jsonl', '{"step":1,"prompt":"p","completions":[]}\n');
put('a/checkpoint/metrics.jsonl', '{"step":1}\n');
put('arena/demo/grpo-s0/metrics.jsonl', '{"step":1,"reward":0.1}\n');
put('notarun/readme.txt', 'x');
const dash = await startDashboard({ runsDir: root, port: 0 });
test.after(async () => {
  await dash.close();
  rmSync(root, { recursive: true, force: true });
});
const get = async (route: string) => {
  const r = await fetch(new URL(route, dash.url));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

test("every folder with a metrics.jsonl is a run, arena runs included; a run's own subfolders are not", async () => {
  const { body } = await get('api/runs');
  assert.equal(body.root, root);
  assert.deepEqual((body.runs as { id: string; steps: number }[]).map((r) => [r.id, r.steps]).sort(), [
    ['a', 2],
    ['arena/demo/grpo-s0', 1],
  ]);
});

test('metrics from a line on, completions and config of a run; unknown runs and paths outside the folder are 404', async () => {
  const m = await get('api/metrics?run=a&from=1');
  assert.deepEqual(m.body, { generation: 0, total: 2, rows: [{ step: 2, reward: 0.7 }], skipped: 0 });
  assert.deepEqual((await get('api/completions?run=a')).body, {
    generation: 0,
    total: 1,
    rows: [{ step: 1, prompt: 'p', completions: [] }],
    skipped: 0,
  });
  assert.deepEqual((await get('api/completions?run=a&from=1')).body.rows, []);
  assert.deepEqual((await get('api/config?run=a')).body, { text: 'name: a\n' });
  assert.equal((await get('api/metrics?run=nope')).status, 404);
  assert.equal((await get('api/config?run=../../etc')).status, 404);
  assert.equal((await get('api/metrics?run=a/checkpoint/..')).status, 200, 'a path that resolves to a run is that run');
  assert.equal((await get('api/nothing')).status, 404);
});

test('a run folder removed while the dashboard follows it is dropped from the list and answers 404, not an error', async () => {
  put('gone/metrics.jsonl', '{"step":1}\n');
  assert.equal((await get('api/metrics?run=gone')).status, 200);
  rmSync(path.join(root, 'gone'), { recursive: true });
  assert.equal((await get('api/metrics?run=gone')).status, 404);
  assert.ok(!((await get('api/runs')).body.runs as { id: string }[]).some((r) => r.id === 'gone'));
});

test('the page carries its code and styles inline: nothing is fetched from the network', async () => {
  const html = await (await fetch(dash.url)).text();
  assert.match(html, /<script type="module">/);
  assert.match(html, /\.uplot/, "uPlot's stylesheet is inlined");
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'no external script, stylesheet or font');
});

test('a port given that is taken is refused in one line; without --port a taken default falls back to a free port', async () => {
  const port = Number(new URL(dash.url).port);
  await assert.rejects(
    startDashboard({ runsDir: root, port }),
    (e: unknown) => e instanceof GrpoError && /port \d+ .* is in use.*--port/.test(e.message),
  );
  const first = await startDashboard({ runsDir: root });
  const second = await startDashboard({ runsDir: root });
  try {
    assert.notEqual(first.url, second.url);
  } finally {
    await first.close();
    await second.close();
  }
});

/** GET / with a Host header of our choosing (fetch drops the Host header it is given). */
function statusUnderHost(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(dash.url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a Host name that is not this machine is refused with 403 (DNS rebinding); localhost names and IPs are served', async () => {
  const port = new URL(dash.url).port;
  for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, 'localhost.evil'])
    assert.equal(await statusUnderHost(host), 403, host);
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    'LOCALHOST.',
    `[::1]:${port}`,
    'app.localhost',
    '10.1.2.3',
  ])
    assert.equal(await statusUnderHost(host), 200, host);
  const refused = await new Promise<string>((resolve) => {
    request(new URL('api/runs', dash.url), { headers: { host: 'evil.example' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    }).end();
  });
  assert.match(JSON.parse(refused).error, /Host 'evil\.example' is refused, a guard against DNS rebinding: .*--host/);
});

test('a dashboard bound to a name answers that name', async () => {
  assert.ok(allowedHost('my-box.lan:6006', 'my-box.lan'));
  assert.ok(!allowedHost('other-box.lan:6006', 'my-box.lan'));
  assert.ok(allowedHost(`${hostname()}:6006`, '0.0.0.0'), "bound to every interface: this machine's name");
  assert.ok(!allowedHost(`${hostname()}.evil.example`, '0.0.0.0'));
  assert.ok(allowedHost(undefined, '127.0.0.1'), 'no Host header: not a browser');
});
