/**
 * The memory plan: what a run will hold, from the model's shape and the run's settings; a run that cannot fit is
 * refused before anything is allocated, with what takes the space and what to change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTrainingMemory, checkMemoryPlan, memoryBudget, availableMemory } from '../../src/trainer/memory-plan.ts';
import type { DeviceInfo } from '../../src/engine/device.ts';
import type { LlamaConfig } from '../../src/model/config.ts';
import { train } from '../../src/trainer/trainer.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { tinyModelFolder, toyConfig, toyTasks, shareOfA } from './fixtures.ts';
import { GrpoError } from '../../src/errors.ts';

const qwen05: LlamaConfig = {
  arch: 'qwen2',
  vocabSize: 151936,
  dim: 896,
  nLayers: 24,
  nHeads: 14,
  nKvHeads: 2,
  headDim: 64,
  ffnDim: 4864,
  ropeTheta: 1e6,
  normEps: 1e-6,
  maxSeqLen: 32768,
  tieEmbeddings: true,
  qkvBias: true,
  qkNorm: false,
};
const run = { sequenceTokens: 256, sequencesPerPass: 4, generationSlots: 8, recompute: false };

test('full fine-tuning holds 16+ bytes a parameter, a bf16 LoRA base about 4, q8_0 about 2; recomputation cuts activations', () => {
  const full = planTrainingMemory({ ...run, config: qwen05, precision: 'bf16', separateReference: true });
  const lora = planTrainingMemory({ ...run, config: qwen05, precision: 'bf16', lora: {}, separateReference: false });
  const q8 = planTrainingMemory({
    ...run,
    config: qwen05,
    precision: 'bf16',
    lora: {},
    basePrecision: 'q8_0',
    separateReference: false,
  });
  const part = (p: typeof full, name: RegExp) => p.parts.find(([what]) => name.test(what))![1];
  const params = 494e6;
  assert.ok(Math.abs(part(full, /gradients and AdamW/) / params - 12) < 0.1);
  assert.ok(Math.abs(part(full, /f32 weights/) / params - 4) < 0.1);
  assert.ok(part(full, /KL reference/) > 0.9e9, 'a second model in bf16 for the KL reference');
  assert.ok(
    Math.abs(part(lora, /frozen base/) / params - 2) < 0.1 && part(q8, /frozen base/) < 0.6 * part(lora, /frozen base/),
  );
  assert.ok(
    full.total - lora.total > 8e9,
    'the optimizer state, gradients, f32 weights and reference are what LoRA saves',
  );
  const kept = part(lora, /activations/),
    recomputed = part(
      planTrainingMemory({
        ...run,
        recompute: true,
        config: qwen05,
        precision: 'bf16',
        lora: {},
        separateReference: false,
      }),
      /activations/,
    );
  assert.ok(recomputed < kept / 10, `${recomputed} vs ${kept}`);
});

test('a plan over the limit is one error naming the total, the parts and the fixes', () => {
  const plan = planTrainingMemory({ ...run, config: qwen05, precision: 'f32', separateReference: true });
  assert.doesNotThrow(() => checkMemoryPlan(plan, plan.total + 1));
  assert.throws(
    () => checkMemoryPlan(plan, 4e9),
    (e: unknown) =>
      e instanceof GrpoError &&
      /needs about \d+\.\d GB and this machine has 4\.0 GB/.test(e.message) &&
      /gradients and AdamW moments/.test(e.message) &&
      /model\.lora/.test(e.message) &&
      /gradient_checkpointing/.test(e.message),
  );
});

test('grpo train refuses, before it starts, a run the memory limit cannot hold', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'grpo-mem-'));
  const before = process.env.GRPO_MEMORY_LIMIT_GB;
  try {
    process.env.GRPO_MEMORY_LIMIT_GB = '0.05';
    await assert.rejects(
      train(toyConfig(tinyModelFolder(root), root, { name: 'mem' }), {
        rewards: [shareOfA],
        tasks: toyTasks,
        quiet: true,
      }),
      (e: unknown) => e instanceof GrpoError && /this machine has 0\.1 GB/.test(e.message),
    );
    const r = await train(
      toyConfig(tinyModelFolder(root), root, {
        name: 'mem2',
        training: { steps: 1, check_memory: false, log_completions_every: 0 },
      }),
      { rewards: [shareOfA], tasks: toyTasks, quiet: true },
    );
    assert.equal(r.steps, 1);
    assert.equal(typeof r.metrics[0]['memory/peak_rss_gb'], 'number');
  } finally {
    if (before === undefined) delete process.env.GRPO_MEMORY_LIMIT_GB;
    else process.env.GRPO_MEMORY_LIMIT_GB = before;
    rmSync(root, { recursive: true, force: true });
  }
});

test('on a GPU the plan is checked against the memory the device reports free, less the runtime that stays on the host', () => {
  const plan = planTrainingMemory({ ...run, config: qwen05, precision: 'f32', separateReference: true });
  const gpu = (free: number): DeviceInfo => ({
    kind: 'cuda',
    name: 'CUDA0',
    description: 'NVIDIA H100',
    software: false,
    memoryFree: free,
    memoryTotal: 80e9,
    ptr: 0n,
  });
  const runtime = plan.parts.find(([what]) => what === 'runtime')![1];
  const before = process.env.GRPO_MEMORY_LIMIT_GB;
  delete process.env.GRPO_MEMORY_LIMIT_GB;
  try {
    assert.doesNotThrow(
      () => checkMemoryPlan(plan, memoryBudget(gpu(plan.total - runtime))!),
      'the runtime is host memory',
    );
    assert.throws(
      () => checkMemoryPlan(plan, memoryBudget(gpu(plan.total - runtime - 1e9))!),
      (e: unknown) =>
        e instanceof GrpoError &&
        new RegExp(
          `needs about ${((plan.total - runtime) / 1e9).toFixed(1)} GB and CUDA0 \\(NVIDIA H100\\) has \\d+\\.\\d GB free`,
        ).test(e.message),
    );
    assert.equal(memoryBudget(gpu(0)), null, 'a backend that reports no memory is not checked');
    assert.match(memoryBudget({ ...gpu(1e9), kind: 'cpu' })!.where, /this machine/);
  } finally {
    if (before !== undefined) process.env.GRPO_MEMORY_LIMIT_GB = before;
  }
});

test('the memory check counts what is available now (free and reclaimable), not the machine’s total', () => {
  const saved = process.env.GRPO_MEMORY_LIMIT_GB;
  delete process.env.GRPO_MEMORY_LIMIT_GB;
  try {
    const available = availableMemory();
    // the kernel and this process hold some of the machine: what is available is less than its total
    assert.ok(available > 0 && available < os.totalmem(), `${available} of ${os.totalmem()}`);
  } finally {
    if (saved !== undefined) process.env.GRPO_MEMORY_LIMIT_GB = saved;
  }
});
