/**
 * Child-process entry for the kill-and-resume test: node --import tsx toy-run.ts MODEL OUT NAME [RESUME_DIR].
 * With TOY_LORA=1: LoRA (with dropout, so its RNG must resume too) on a bf16 base, with KL to the adapters-off base.
 * TOY_PRESET names the method (default grpo; ppo: a critic with its own lr and steps, so its own step count).
 */
import { train } from '../../src/trainer/trainer.ts';
import { toyTasks, shareOfA, toyConfig } from './fixtures.ts';

const [modelDir, out, name, resume] = process.argv.slice(2);
const lora =
  process.env.TOY_LORA === '1'
    ? { model: { path: modelDir, threads: 1, precision: 'f32', lora: { r: 4, dropout: 0.1 }, base_precision: 'bf16' } }
    : {};
const cfg = toyConfig(modelDir, out, {
  name,
  ...lora,
  algorithm: { preset: process.env.TOY_PRESET ?? 'grpo' },
  optimizer: { lr: 3e-2 },
  training: { steps: 8, save_every: 2, micro_batch_groups: 2, log_completions_every: 0 },
});
// each step takes at least 40 ms, so the parent reliably kills the run part-way on any machine
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
await train(cfg, {
  rewards: [shareOfA],
  tasks: toyTasks,
  quiet: true,
  resume,
  beforeUpdate: () => {
    pause(40);
  },
});
