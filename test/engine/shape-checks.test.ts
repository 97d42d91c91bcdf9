/** Bad shapes and types become GrpoErrors in TypeScript — each of these would abort() the process inside ggml. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../../src/engine/backend.ts';
import { ComputeGraph } from '../../src/engine/graph.ts';
import { TensorStore } from '../../src/engine/store.ts';
import { GrpoError } from '../../src/errors.ts';
import { LlamaModel } from '../../src/model/llama-model.ts';

const shapeError = (re: RegExp) => (e: unknown) => e instanceof GrpoError && re.test(e.message);

test('ops validate shapes before calling ggml', () => {
  const backend = Backend.cpu({ threads: 1 });
  const g = new ComputeGraph(backend);
  const o = g.ops;
  const a = g.input('f32', [4, 3], 'a');
  const b = g.input('f32', [5, 2], 'b');
  const idx = g.input('i32', [2], 'idx');
  assert.throws(() => o.matmul(a, b), shapeError(/inner dimensions differ/));
  assert.throws(() => o.add(a, b), shapeError(/cannot be broadcast/));
  assert.throws(() => o.reshape(o.permute(a, [1, 0, 2, 3]), [12, 1]), shapeError(/not contiguous/));
  assert.throws(() => o.reshape(a, [5, 2]), shapeError(/12 elements/));
  assert.throws(() => o.getRows(a, a), shapeError(/indices must be i32/));
  assert.throws(() => o.rope(o.reshape(a, [4, 1, 3]), idx, 4, 10000), shapeError(/2 positions for 3 tokens/));
  assert.throws(() => o.permute(a, [0, 0, 1, 2]), shapeError(/not a permutation/));
  assert.throws(() => o.view(a, [4, 4, 1, 1], [16, 64, 64], 0), shapeError(/runs past the end/));
  g.free();
  backend.free();
});

test('tensor writes check type and size; unused graph inputs are caught before allocation', () => {
  const backend = Backend.cpu({ threads: 1 });
  const store = new TensorStore(1);
  const t = store.declare('f32', [3], 't');
  store.allocate(backend);
  assert.throws(() => t.write(new Float32Array(4)), shapeError(/holds 3/));
  assert.throws(() => t.write(new Int32Array(3)), shapeError(/expected Float32Array/));
  const g = new ComputeGraph(backend);
  const used = g.input('f32', [3], 'used');
  g.input('f32', [3], 'unused');
  g.expand(g.ops.scale(used, 2));
  assert.throws(() => g.allocate(), shapeError(/'unused' is not used/));
  g.free();
  store.free();
  backend.free();
});

test('the model rejects out-of-vocabulary tokens, short sequences and mismatched coefficients', () => {
  const model = new LlamaModel(
    {
      arch: 'llama',
      vocabSize: 16,
      dim: 8,
      nLayers: 1,
      nHeads: 2,
      nKvHeads: 2,
      headDim: 4,
      ffnDim: 16,
      ropeTheta: 10000,
      normEps: 1e-5,
      maxSeqLen: 32,
      tieEmbeddings: true,
      qkvBias: false,
      qkNorm: false,
    },
    { threads: 1 },
  );
  model.createOptimizer();
  assert.throws(() => model.forward([[1, 16]]), shapeError(/token 16 is outside the vocabulary \[0, 16\)/));
  assert.throws(() => model.forward([[1]]), shapeError(/at least 2/));
  const pass = model.forward([[1, 2, 3]], { grad: true });
  assert.throws(() => pass.backward({ logp: [[1]] }), shapeError(/1 values for 2 scored tokens/));
  assert.throws(() => pass.backward({ logp: [[1, 2]], values: [[1, 1]] }), shapeError(/no value head/));
  model.forward([[1, 2, 3]], { grad: true });
  assert.throws(() => pass.backward({ logp: [[1, 2]] }), shapeError(/stale pass/));
  model.free();
});

test('configs that cannot run are rejected with the field named', () => {
  const base = {
    arch: 'llama' as const,
    vocabSize: 16,
    dim: 8,
    nLayers: 1,
    nHeads: 3,
    nKvHeads: 2,
    headDim: 4,
    ffnDim: 16,
    ropeTheta: 10000,
    normEps: 1e-5,
    maxSeqLen: 32,
    tieEmbeddings: true,
    qkvBias: false,
    qkNorm: false,
  };
  assert.throws(
    () => new LlamaModel(base, { threads: 1 }),
    shapeError(/nHeads \(3\) must be a multiple of nKvHeads \(2\)/),
  );
  assert.throws(
    () => new LlamaModel({ ...base, nHeads: 2, headDim: 3 }, { threads: 1 }),
    shapeError(/headDim must be even/),
  );
  assert.throws(
    () => new LlamaModel({ ...base, nHeads: 2, dim: 0 }, { threads: 1 }),
    shapeError(/dim must be a positive integer/),
  );
});
