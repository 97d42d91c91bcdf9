/**
 * `grpo train` on a disk that fills up (a small tmpfs, where one can be mounted): the checkpoint write that does
 * not fit ends the run with one line — the disk is full, where, and that the last checkpoint is intact — and leaves
 * no half-written staging folder; the intact checkpoint is the one written before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_CONFIG, grpoTrain, shortRun } from './short-run.ts';

test('a checkpoint that fills the disk ends grpo train in one line and keeps the last checkpoint', (t) => {
  const mount = mkdtempSync(path.join(tmpdir(), 'grpo-full-'));
  // the embedded model's checkpoint (weights and AdamW moments) is about 1.6 MB: one fits, a second beside it does not
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2500k', 'tmpfs', mount]).status !== 0) {
    rmSync(mount, { recursive: true, force: true });
    t.skip('mounting a tmpfs needs root; test/util/atomic.test.ts covers the error with a simulated full disk');
    return;
  }
  try {
    const r = spawnSync(
      ...grpoTrain(['--config', DEMO_CONFIG, ...shortRun(mount, 'demo', 4), '--training.save_every', '2']),
      { encoding: 'utf8', timeout: 300_000 },
    );
    const errLines = r.stderr.split('\n').filter((l) => l.startsWith('grpo: '));
    assert.equal(r.status, 1, r.stderr);
    const ckpt = path.join(mount, 'demo', 'checkpoint');
    assert.deepEqual(errLines, [
      `grpo: the disk is full (no space left on the device) writing ${ckpt}: the previous ${ckpt} is intact; free some space, then run again (grpo train --resume ${ckpt})`,
    ]);
    assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
    assert.equal(JSON.parse(readFileSync(path.join(ckpt, 'state.json'), 'utf8')).step, 2);
    assert.ok(!readdirSync(path.join(mount, 'demo')).some((n) => n.includes('.tmp-')), 'no staging folder left');
  } finally {
    spawnSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});
