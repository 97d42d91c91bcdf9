/**
 * `grpo train` as a user runs it: Ctrl-C (SIGINT) ends the run after the current step with a checkpoint and the
 * command to resume it (exit 130); running it again under the same name is refused in one line; --resume
 * continues it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = (args: string[]) =>
  [process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'train', ...args]] as const;

test('SIGINT stops grpo train after the current step with a checkpoint; a rerun is refused; --resume continues', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-signal-'));
  try {
    const args = [
      '--config',
      path.join(root, 'configs/demo.yaml'),
      '--out_dir',
      out,
      '--name',
      'sig',
      '--training.steps',
      '400',
      '--training.eval_every',
      '0',
      '--data.eval_size',
      '4',
      '--rollout.prompts_per_step',
      '2',
      '--training.micro_batch_groups',
      '2',
      '--model.threads',
      '1',
      '--overwrite',
      'false',
    ];
    const [exe, argv] = cli(args);
    const child = spawn(exe, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const metrics = path.join(out, 'sig', 'metrics.jsonl');
    const lines = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (lines() >= 2) {
          clearInterval(timer);
          child.kill('SIGINT');
          resolve();
        }
      }, 20);
      child.once('exit', () => {
        clearInterval(timer);
        reject(new Error(`grpo train ended before it was interrupted:\n${stderr}`));
      });
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 130, stderr);
    const step = JSON.parse(readFileSync(path.join(out, 'sig', 'checkpoint', 'state.json'), 'utf8')).step;
    assert.ok(step >= 2 && step === lines(), `checkpoint at step ${step}, ${lines()} metric lines`);
    assert.match(stderr, /SIGINT: stopping after this step/);
    assert.match(stdout, new RegExp(`stopped at step ${step}; continue with: grpo train --resume .*sig/checkpoint`));
    assert.ok(!existsSync(path.join(out, 'sig', 'final')));

    const again = spawnSync(...cli(args), { cwd: root, encoding: 'utf8' });
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already holds a run .*--resume .*--overwrite/);
    assert.ok(!again.stderr.includes('    at '), 'one line, no stack trace');

    const resumed = spawnSync(
      ...cli(['--resume', path.join(out, 'sig', 'checkpoint'), '--training.steps', String(step + 1)]),
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lines(), step + 1);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
