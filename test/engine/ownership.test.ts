/**
 * Using a tensor after its model, store or graph was freed — or before it has memory — throws a GrpoError.
 * Each of these used to reach ggml, which aborts the whole process (GGML_ASSERT(buf != NULL)) or reads freed memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../../src/engine/backend.ts';
import { TensorStore } from '../../src/engine/store.ts';
import { ComputeGraph } from '../../src/engine/graph.ts';
import { LlamaModel } from '../../src/model/llama-model.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyConfigs } from '../model/tiny-configs.ts';

const engineError = (re: RegExp) => (e: unknown) => e instanceof GrpoError && re.test(e.message);

test('a store tensor is unusable after the store is freed, and before it is allocated', () => {
  const backend = Backend.cpu({ threads: 1 });
  const store = new TensorStore(2);
  const t = store.declare('f32', [4], 't');
  assert.throws(() => t.write(new Float32Array(4)), engineError(/no memory yet/));
  store.allocate(backend);
  t.write(Float32Array.of(1, 2, 3, 4));
  assert.deepEqual([...t.readF32()], [1, 2, 3, 4]);
  store.free();
  assert.throws(() => t.readF32(), engineError(/used after its model, store or graph was freed/));
  assert.throws(() => t.write(new Float32Array(4)), engineError(/used after/));
  // building a graph on it is refused before ggml sees it
  const g = new ComputeGraph(backend);
  assert.throws(() => g.ops.scale(t, 2), engineError(/used after/));
  g.free();
  backend.free();
});

test('graph tensors are unusable after the graph is freed; a tensor the graph never computes has no memory', () => {
  const backend = Backend.cpu({ threads: 1 });
  const g = new ComputeGraph(backend);
  const x = g.input('f32', [3], 'x');
  const y = g.output(g.ops.scale(x, 2));
  const unused = g.ops.scale(x, 5);
  g.expand(y);
  g.allocate();
  x.write(Float32Array.of(1, 2, 3));
  g.compute();
  assert.deepEqual([...y.readF32()], [2, 4, 6]);
  assert.throws(() => unused.readF32(), engineError(/no memory yet/));
  g.free();
  assert.throws(() => y.readF32(), engineError(/used after/));
  assert.throws(() => g.compute(), engineError(/freed graph/));
  backend.free();
});

test('a freed model refuses every use, including a pending backward', () => {
  const model = new LlamaModel(tinyConfigs['llama (GQA, tied)'], { threads: 1 });
  model.createOptimizer();
  const pass = model.forward([[1, 2, 3, 4]], { grad: true });
  const embed = model.weights.embed;
  model.free();
  assert.throws(() => pass.backward({ logp: [[1, 1, 1]] }), engineError(/model was freed/));
  assert.throws(() => model.forward([[1, 2, 3]]), engineError(/model was freed/));
  assert.throws(() => model.logits([[1, 2]]), engineError(/model was freed/));
  assert.throws(() => embed.readF32(), engineError(/used after/));
  model.free(); // idempotent
});
