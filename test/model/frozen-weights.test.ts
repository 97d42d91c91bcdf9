/**
 * Frozen weights get no gradient computed at all: the optimizer holds only the trainable parameters, their
 * gradients are exactly those of a fully trainable model, and the backward graph builds nothing below the
 * lowest trainable piece (fewer nodes, no embedding scatter).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { BatchGraph } from '../../src/model/batch-graph.ts';
import { AdamW } from '../../src/engine/optimizer.ts';
import { tinyConfigs, randomizeWeights, randomSequences } from './tiny-configs.ts';
import { Rng } from '../../src/util/rng.ts';
import { GrpoError } from '../../src/errors.ts';

const config = tinyConfigs['qwen2 (bias, MHA)'];
const lastLayer = `model.layers.${config.nLayers - 1}.`;
const topOnly = (name: string) =>
  name.startsWith(lastLayer) || name === 'model.norm.weight' || name === 'lm_head.weight';

test('gradients of the trainable subset equal those of the fully trainable model', () => {
  const run = (trainable?: (name: string) => boolean) => {
    const model = new LlamaModel(config, { threads: 1 });
    try {
      const opt = model.createOptimizer({ trainable });
      model.weights.load(randomizeWeights(model.weights.save(), 8, 0.2));
      const rng = new Rng(2);
      const seqs = randomSequences(rng, [12, 7], config.vocabSize);
      model
        .forward(seqs, { grad: true })
        .backward({ logp: seqs.map((s) => Array.from({ length: s.length - 1 }, () => rng.normal())) });
      return { model, grads: new Map(opt.params.map((p) => [p.name, opt.gradOf(p).readF32()])) };
    } finally {
      model.free();
    }
  };
  const all = run(),
    top = run(topOnly);
  assert.deepEqual([...top.grads.keys()].sort(), [...all.grads.keys()].filter(topOnly).sort());
  for (const [name, g] of top.grads) {
    const ref = all.grads.get(name)!;
    g.forEach((x, i) =>
      assert.ok(Math.abs(x - ref[i]) <= 1e-6 * (1 + Math.abs(ref[i])), `${name}[${i}]: ${x} vs ${ref[i]}`),
    );
  }
});

test('the backward graph builds nothing below the lowest trainable piece', () => {
  const model = new LlamaModel(config, { threads: 1 });
  try {
    const nodes = (trainable: (name: string) => boolean) => {
      const params = model.weights.parameters.filter((p) => trainable(p.name));
      const opt = new AdamW(model.backend, params);
      const g = new BatchGraph(model.backend, model.weights, {
        kind: 'train',
        shape: { N: 32, M: 32, families: [{ rows: 2, queries: 16, keys: 16 }] },
        entropy: 'none',
        temperature: 1,
        copies: model.weightCopies(),
        gradAccumulators: opt.gradAccumulators,
      });
      const n = { all: g.graph.nodeCount, backward: g.graph.nodeCount - g.graph.forwardNodeCount };
      g.free();
      opt.free();
      return n;
    };
    const everything = nodes(() => true),
      top = nodes(topOnly),
      embedFrozen = nodes((n) => n !== 'model.embed_tokens.weight');
    assert.equal(top.all - top.backward, everything.all - everything.backward, 'the forward part is the same');
    assert.ok(
      top.backward < everything.backward / 1.5,
      `top-only backward has ${top.backward} nodes, full ${everything.backward}`,
    );
    // freezing the embedding drops its scatter and accumulation, and the gradient into the embedding output (layer
    // 0's attention-norm input gradient: mul, rms_norm_back; and the sum with the residual path's): 5 nodes
    assert.equal(everything.backward - embedFrozen.backward, 5);
  } finally {
    model.free();
  }
});

test('a trainable filter that matches nothing is a clear error', () => {
  const model = new LlamaModel(config, { threads: 1 });
  try {
    assert.throws(
      () => model.createOptimizer({ trainable: () => false }),
      (e: unknown) => e instanceof GrpoError && /no parameter is trainable/.test(e.message),
    );
  } finally {
    model.free();
  }
});

test('training only the value head builds only its gradient (no log-prob coefficients needed)', () => {
  const model = new LlamaModel(config, { threads: 1, valueHead: true });
  try {
    const opt = model.createOptimizer({ trainable: (n) => n === 'value_head.weight' });
    model.weights.load(randomizeWeights(model.weights.save(), 8, 0.2));
    const seqs = [[1, 2, 3, 4, 5]];
    const pass = model.forward(seqs, { grad: true });
    pass.backward({ logp: [[1, 1, 1, 1]], values: [[1, -1, 2, 0.5]] });
    const g = opt.gradOf(model.weights.valueHead!).readF32();
    assert.deepEqual(
      opt.params.map((p) => p.name),
      ['value_head.weight'],
    );
    assert.ok(
      g.some((x) => x !== 0),
      'the value head has a gradient',
    );
  } finally {
    model.free();
  }
});

test("a 'value_head' pass (the critic's own) gives the value head the full pass's gradient and nothing else any", () => {
  const model = new LlamaModel(config, { threads: 1, valueHead: true });
  try {
    const opt = model.createOptimizer({ groups: [{ name: 'critic', params: (n) => n === 'value_head.weight' }] });
    model.weights.load(randomizeWeights(model.weights.save(), 9, 0.2));
    const head = model.weights.valueHead!;
    head.write(Float32Array.from({ length: head.numel }, (_, i) => Math.cos(i)));
    const seqs = [
      [1, 2, 3, 4, 5],
      [6, 7, 8],
    ];
    const h = [
      [1, -1, 2, 0.5],
      [0.25, -3],
    ];
    const full = model.forward(seqs, { grad: true });
    full.backward({
      logp: [
        [0, 0, 0, 0],
        [0, 0],
      ],
      values: h,
    });
    const expected = opt.gradOf(head).readF32();
    opt.zeroGrad();
    const critic = model.forward(seqs, { grad: 'value_head' });
    full.values!.forEach((v, i) => assert.deepEqual(critic.values![i], v, 'the scoring forward'));
    critic.backward({ values: h });
    const got = opt.gradOf(head).readF32();
    got.forEach((x, i) =>
      assert.ok(Math.abs(x - expected[i]) <= 1e-5 * (1 + Math.abs(expected[i])), `grad[${i}] ${x} vs ${expected[i]}`),
    );
    assert.ok(expected.some((x) => x !== 0));
    for (const p of opt.groupParams('default'))
      assert.ok(
        opt
          .gradOf(p)
          .readF32()
          .every((x) => x === 0),
        `${p.name} got a gradient`,
      );
  } finally {
    model.free();
  }
});

test("a 'value_head' pass without a value head is a clear error", () => {
  const model = new LlamaModel(config, { threads: 1 });
  try {
    model.createOptimizer();
    assert.throws(
      () => model.forward([[1, 2, 3]], { grad: 'value_head' }),
      (e: unknown) => e instanceof GrpoError && /has no value head/.test(e.message),
    );
  } finally {
    model.free();
  }
});
