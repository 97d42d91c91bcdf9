// ggml's scheduler on the device: ops the GPU backend lacks run on the CPU (forced here with GRPO_CPU_OPS, since
// the device under test has every op the engine uses), and results still equal the CPU's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../src/engine/backend.ts';
import { ComputeGraph } from '../src/engine/graph.ts';
import { TensorStore } from '../src/engine/store.ts';
import { generate } from '../src/rollout/generate.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from '../test/model/tiny-configs.ts';
import { LlamaModel } from '../src/model/llama-model.ts';
import { Rng } from '../src/util/rng.ts';
import { DEVICE, SKIP, REL_TOL, onBoth, relativeError } from './device-fixtures.ts';

/** y = softmax(W x) and, in a backward part, dW = (dy ⊙ y) xᵀ accumulated into a stored gradient */
function run(device: string, cpuOps: string): { y: Float32Array; grad: Float32Array; splits: number } {
  const saved = process.env.GRPO_CPU_OPS;
  process.env.GRPO_CPU_OPS = cpuOps;
  const backend = Backend.open({ device, threads: 1 });
  const store = new TensorStore(4);
  const w = store.declare('f32', [6, 5], 'w'),
    gw = store.declare('f32', [6, 5], 'gw');
  store.allocate(backend);
  const g = new ComputeGraph(backend);
  try {
    const rng = new Rng(11);
    w.write(Float32Array.from({ length: 30 }, () => rng.normal()));
    const x = g.input('f32', [6, 3], 'x'),
      dy = g.input('f32', [5, 3], 'dy');
    const y = g.output(g.ops.softmax(g.ops.matmul(w, x)));
    g.expand(y);
    g.beginBackward();
    // ∂/∂W of Σ dy ⊙ y through the matmul only (a made-up backward, enough to cross the seam)
    g.expand(
      g.ops.addInto(gw, g.ops.matmul(g.ops.cont(g.ops.transpose(x)), g.ops.cont(g.ops.transpose(g.ops.mul(dy, y))))),
    );
    g.allocate();
    x.write(Float32Array.from({ length: 18 }, () => rng.normal()));
    g.computeForward();
    const out = y.readF32();
    dy.write(Float32Array.from({ length: 15 }, () => rng.normal()));
    g.computeBackward();
    return { y: out, grad: gw.readF32(), splits: g.splits };
  } finally {
    g.free();
    store.free();
    backend.free();
    if (saved === undefined) delete process.env.GRPO_CPU_OPS;
    else process.env.GRPO_CPU_OPS = saved;
  }
}

test(`${DEVICE}: the scheduler computes a training graph's parts on the device, and on the CPU the ops it is told to`, {
  skip: SKIP,
}, () => {
  const cpu = run('cpu', '');
  const dev = run(DEVICE, '');
  const mixed = run(DEVICE, 'SOFT_MAX,MUL');
  assert.equal(dev.splits, 2, 'one run of device ops per part');
  assert.ok(mixed.splits > 2, `SOFT_MAX and MUL on the CPU split the parts (${mixed.splits} runs)`);
  for (const r of [dev, mixed]) {
    assert.ok(relativeError(cpu.y, r.y) < REL_TOL, 'forward');
    assert.ok(relativeError(cpu.grad, r.grad) < REL_TOL, 'backward across the seam');
  }
});

test(`${DEVICE}: with matmuls and softmax forced onto the CPU, decoding, gradients and AdamW still equal the CPU's`, {
  skip: SKIP,
}, () => {
  const saved = process.env.GRPO_CPU_OPS;
  process.env.GRPO_CPU_OPS = 'MUL_MAT,SOFT_MAX,RMS_NORM_BACK';
  const config = { ...tinyConfigs['qwen2 (bias, MHA)'], eosTokenIds: [] };
  const { cpu, dev, free } = onBoth(
    config,
    randomizeWeights(new LlamaModel(config, { threads: 1, device: 'cpu' }).weights.save(), 4),
    { valueHead: true },
  );
  try {
    const prompts = [
      [1, 5, 9],
      [1, 30, 4, 4, 12, 7],
    ];
    const opts = { temperature: 1, maxTokens: 5, seed: 2 };
    const [onCpu, onDev] = [generate(cpu, prompts, opts), generate(dev, prompts, opts)];
    assert.deepEqual(
      onDev.map((c) => c.tokens),
      onCpu.map((c) => c.tokens),
    );
    assert.ok(
      relativeError(
        onCpu.flatMap((c) => c.logprobs),
        onDev.flatMap((c) => c.logprobs),
      ) < REL_TOL,
    );
    const rng = new Rng(3);
    const seqs = randomSequences(rng, [7, 11], config.vocabSize);
    const coef = () => seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal()));
    const c = { logp: coef(), values: coef() };
    const [optC, optD] = [cpu.createOptimizer(), dev.createOptimizer()];
    cpu.forward(seqs, { grad: true }).backward(c);
    dev.forward(seqs, { grad: true }).backward(c);
    optC.step({ lr: 1e-2 });
    optD.step({ lr: 1e-2 });
    const after = [cpu.weights.save(), dev.weights.save()];
    for (const [name, w] of after[0])
      assert.ok(relativeError(w.data, after[1].get(name)!.data) < REL_TOL, `${name} after a step`);
  } finally {
    free();
    if (saved === undefined) delete process.env.GRPO_CPU_OPS;
    else process.env.GRPO_CPU_OPS = saved;
  }
});
