/** `grpo train --dashboard`: the dashboard runs in its own process beside the run, prints its URL and ends with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('grpo train --dashboard serves the run folder while the run lasts', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-dash-cli-'));
  try {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(root, 'src/cli/main.ts'),
        'train',
        '--config',
        path.join(root, 'configs/demo.yaml'),
        '--out_dir',
        out,
        '--name',
        'live',
        '--training.steps',
        '3',
        '--data.eval_size',
        '4',
        '--rollout.prompts_per_step',
        '2',
        '--training.micro_batch_groups',
        '2',
        '--model.threads',
        '1',
        '--dashboard',
        '0',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
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
