/**
 * `grpo train` as a user runs it: Ctrl-C (SIGINT) ends the run after the current step with a checkpoint and the
 * command to resume it (exit 130); running it again under the same name is refused in one line; --resume
 * continues it. The same under `npm start`, where a terminal's Ctrl-C signals the whole process group (npm, its
 * shell, and the command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_CONFIG, ROOT, grpoTrain, shortRun } from './short-run.ts';

const metricLines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;

/** Output of a child, collected; resolves once `ready` holds (polled), rejects if the child ends first. */
function watch(
  child: ChildProcess,
  ready: () => boolean,
): { out: { stdout: string; stderr: string }; started: Promise<void> } {
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr!.on('data', (d) => {
    out.stderr += d;
  });
  const started = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.once('exit', () => {
      clearInterval(timer);
      reject(new Error(`grpo train ended before it was interrupted:\n${out.stderr}`));
    });
  });
  return { out, started };
}

test('SIGINT stops grpo train after the current step with a checkpoint; a rerun is refused; --resume continues', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-signal-'));
  try {
    const args = ['--config', DEMO_CONFIG, ...shortRun(out, 'sig'), '--overwrite', 'false'];
    const [exe, argv] = grpoTrain(args);
    const child = spawn(exe, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const metrics = path.join(out, 'sig', 'metrics.jsonl');
    const lines = () => metricLines(metrics);
    const { out: output, started } = watch(child, () => lines() >= 2);
    await started;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const { stdout, stderr } = output;
    assert.equal(code, 130, stderr);
    const step = JSON.parse(readFileSync(path.join(out, 'sig', 'checkpoint', 'state.json'), 'utf8')).step;
    assert.ok(step >= 2 && step === lines(), `checkpoint at step ${step}, ${lines()} metric lines`);
    assert.match(stderr, /SIGINT: stopping after this step/);
    assert.match(stdout, new RegExp(`stopped at step ${step}; continue with: grpo train --resume .*sig/checkpoint`));
    assert.ok(!existsSync(path.join(out, 'sig', 'final')));

    const again = spawnSync(...grpoTrain(args), { cwd: ROOT, encoding: 'utf8' });
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already holds a run .*--resume .*--overwrite/);
    assert.ok(!again.stderr.includes('    at '), 'one line, no stack trace');

    const resumed = spawnSync(
      ...grpoTrain(['--resume', path.join(out, 'sig', 'checkpoint'), '--training.steps', String(step + 1)]),
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lines(), step + 1);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// npm, a shell and the model load before the first step: minutes on a loaded machine
const generous = { timeout: 300_000 };
test('npm start, Ctrl-C (SIGINT to its process group): a checkpoint and the --resume hint', generous, async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-npm-start-'));
  try {
    // npm start runs configs/demo.yaml; the flags after -- shorten it. Its own process group, as a terminal's job is.
    const child = spawn('npm', ['start', '--', ...shortRun(out, 'npm')], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    const metrics = path.join(out, 'npm', 'metrics.jsonl');
    const { out: output, started } = watch(child, () => metricLines(metrics) >= 1);
    try {
      await started;
      process.kill(-child.pid!, 'SIGINT');
    } catch (e) {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      throw e;
    }
    await new Promise((resolve) => child.once('exit', resolve));
    const { stdout, stderr } = output;
    const state = path.join(out, 'npm', 'checkpoint', 'state.json');
    assert.ok(existsSync(state), `no checkpoint after Ctrl-C:\n${stdout}\n${stderr}`);
    const step = JSON.parse(readFileSync(state, 'utf8')).step;
    assert.ok(
      step >= 1 && step === metricLines(metrics),
      `checkpoint at step ${step}, ${metricLines(metrics)} metric lines`,
    );
    // one SIGINT reached the trainer (a second would have quit at once, without the checkpoint)
    assert.equal(stderr.match(/SIGINT: stopping after this step/g)?.length, 1, stderr);
    assert.match(stdout, new RegExp(`stopped at step ${step}; continue with: grpo train --resume .*npm/checkpoint`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
