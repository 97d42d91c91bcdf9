/** `grpo train --dashboard`: the dashboard runs in its own process beside the run, prints its URL and ends with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_CONFIG, ROOT, grpoTrain, shortRun } from './short-run.ts';

test('grpo train --dashboard serves the run folder while the run lasts', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-dash-cli-'));
  try {
    const child = spawn(...grpoTrain(['--config', DEMO_CONFIG, ...shortRun(out, 'live', 3), '--dashboard', '0']), {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /dashboard: (http:\/\/\S+?)\?run=live/.exec(stdout);
        if (m) resolve(m[1]);
      });
      void exited.then(() => reject(new Error(`no dashboard URL printed:\n${stdout}\n${stderr}`)));
    });
    const runs = (await (await fetch(new URL('api/runs', url))).json()) as { root: string };
    assert.equal(runs.root, out);
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /accuracy_before=.* accuracy_after=/);
    // the dashboard process ended with the run
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      refused = await fetch(url).then(
        () => false,
        () => true,
      );
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(refused, 'the dashboard still answers after the run ended');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
