/**
 * Exact resume: a run killed at any point (SIGKILL, no chance to save) and resumed from its last checkpoint
 * produces the same metrics and the same final weights as an uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyModelFolder } from './fixtures.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, 'toy-run.ts');
interface Variant {
  lora: boolean;
  preset: string;
  legacy?: boolean;
}
const env = (v: Variant) => ({ ...process.env, TOY_LORA: v.lora ? '1' : '0', TOY_PRESET: v.preset });
const run = (args: string[], v: Variant) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', env: env(v) });

/** metrics without measurements of the machine (wall-clock time and timings, peak memory) */
function metrics(runDir: string) {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const m = JSON.parse(l);
      for (const k of Object.keys(m))
        if (k === 'wall_time' || k.startsWith('time/') || k.startsWith('memory/')) delete m[k];
      return m;
    });
}

const variants: [Variant, string][] = [
  // a state.json from before parameter groups has no per-group step counts: a one-group run resumes from it exactly
  [{ lora: false, preset: 'grpo', legacy: true }, ' (from a checkpoint written before parameter groups)'],
  [{ lora: true, preset: 'grpo' }, ' (LoRA: the checkpoint holds the adapter, not the base)'],
  [{ lora: false, preset: 'ppo' }, ' (PPO: the critic group resumes at its own step count, its shuffles too)'],
];
for (const [variant, what] of variants)
  test(`kill -9 mid-run, resume, and the run ends exactly as an uninterrupted one${what}`, async () => {
    const lora = variant.lora;
    const root = mkdtempSync(path.join(tmpdir(), 'grpo-resume-'));
    try {
      const model = tinyModelFolder(root);
      const full = run([model, root, 'full'], variant);
      assert.equal(full.status, 0, full.stderr);

      // start the same run and kill it once it has logged its 5th step (a checkpoint exists from step 4)
      const child = spawn(process.execPath, ['--import', 'tsx', script, model, root, 'killed'], {
        stdio: 'ignore',
        env: env(variant),
      });
      const metricsFile = path.join(root, 'killed', 'metrics.jsonl');
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          const lines = existsSync(metricsFile)
            ? readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean).length
            : 0;
          if (lines >= 5) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 5);
        child.on('exit', () => {
          clearInterval(timer);
          resolve();
        });
        child.on('error', reject);
      });
      const logged = readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean).length;
      assert.ok(logged >= 5 && logged < 8, `killed after ${logged} steps`);
      const ckpt = JSON.parse(readFileSync(path.join(root, 'killed', 'checkpoint', 'state.json'), 'utf8'));
      assert.ok(ckpt.step < logged, 'the kill came after the last checkpoint, so some steps must rerun');

      if (lora)
        assert.ok(
          existsSync(path.join(root, 'killed', 'checkpoint', 'adapter', 'adapter_model.safetensors')) &&
            !existsSync(path.join(root, 'killed', 'checkpoint', 'model')),
        );
      const stateFile = path.join(root, 'killed', 'checkpoint', 'state.json');
      if (variant.preset === 'ppo')
        assert.ok(ckpt.optimizerSteps.critic > ckpt.optimizerSteps.default, JSON.stringify(ckpt.optimizerSteps));
      if (variant.legacy) {
        delete ckpt.optimizerSteps;
        writeFileSync(stateFile, JSON.stringify(ckpt));
      }
      const resumed = run([model, root, 'killed', path.join(root, 'killed', 'checkpoint')], variant);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.deepEqual(metrics(path.join(root, 'killed')), metrics(path.join(root, 'full')));
      const weights = lora ? 'adapter_model.safetensors' : 'model.safetensors';
      assert.ok(
        readFileSync(path.join(root, 'killed', 'final', weights)).equals(
          readFileSync(path.join(root, 'full', 'final', weights)),
        ),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
