/**
 * The CPU graph memory planner (src/engine/graph-memory.ts): graphs compute what they compute with memory of their
 * own, whatever the pattern of live tensors — including one that leaves more free holes than ggml's allocator can
 * hold (it would abort the process) — and a shared arena reuses and grows its buffer as graphs need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../../src/engine/backend.ts';
import { ComputeGraph } from '../../src/engine/graph.ts';
import { GraphArena } from '../../src/engine/arena.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { Rng } from '../../src/util/rng.ts';

const backend = Backend.open({ device: 'cpu', threads: 1 });
test.after(() => backend.free());

test("a graph leaving more free holes than ggml's allocator holds (256) computes correctly", () => {
  // temporaries of growing size between kept outputs: no freed temporary fits the next one, so each stays a hole
  // (ggml_gallocr aborts this graph: "out of free blocks")
  const n = 400;
  const g = new ComputeGraph(backend, { maxNodes: 8 * n + 16 });
  try {
    const x = g.input('f32', [16 * n], 'x');
    const outs: Tensor[] = [];
    for (let i = 1; i <= n; i++) {
      const m = 16 * i;
      const part = g.ops.view(x, [m, 1, 1, 1], [4 * m, 4 * m, 4 * m], 0);
      const doubled = g.ops.scale(part, 2); // a temporary, freed once concatenated
      outs.push(g.output(g.ops.concat(doubled, doubled, 0)));
      g.expand(outs[outs.length - 1]);
    }
    g.allocate();
    const xs = Float32Array.from({ length: 16 * n }, (_, i) => (i % 97) - 7.5);
    x.write(xs);
    g.compute();
    outs.forEach((o, k) => {
      const half = Array.from(xs.subarray(0, 16 * (k + 1)), (v) => 2 * v);
      assert.deepEqual(Array.from(o.readF32()), [...half, ...half]);
    });
  } finally {
    g.free();
  }
});

test('random graphs of live and dead tensors compute what float32 arithmetic gives', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 6; trial++) {
    const lanes = [3, 17, 64, 200, 1000];
    const g = new ComputeGraph(backend, { maxNodes: 1200 });
    try {
      const inputs = lanes.map((m, i) => g.input('f32', [m], `x${i}`));
      const host = lanes.map((m) => Float32Array.from({ length: m }, () => Math.fround(rng.normal())));
      // per lane: the tensors so far and their host values (each op is exact per element in float32)
      const made: { t: Tensor; v: Float32Array }[][] = inputs.map((t, i) => [{ t, v: host[i] }]);
      const outputs: { t: Tensor; v: Float32Array }[] = [];
      for (let k = 0; k < 300; k++) {
        const lane = rng.int(lanes.length),
          pool = made[lane];
        const a = pool[rng.int(pool.length)],
          b = pool[rng.int(pool.length)];
        const op = rng.int(3);
        const t = op === 0 ? g.ops.add(a.t, b.t) : op === 1 ? g.ops.mul(a.t, b.t) : g.ops.scale(a.t, 0.5);
        const v = Float32Array.from(a.v, (x, i) =>
          Math.fround(op === 0 ? x + b.v[i] : op === 1 ? x * b.v[i] : x * 0.5),
        );
        pool.push({ t, v });
        if (rng.next() < 0.15) {
          g.output(t);
          outputs.push({ t, v });
        }
        g.expand(t);
      }
      for (const pool of made) {
        const last = pool[pool.length - 1];
        if (!outputs.some((o) => o.t === last.t)) {
          g.output(last.t);
          outputs.push(last);
        }
      }
      g.allocate();
      inputs.forEach((t, i) => t.write(host[i]));
      g.compute();
      for (const o of outputs) assert.deepEqual(Array.from(o.t.readF32()), Array.from(o.v));
    } finally {
      g.free();
    }
  }
});

test('an arena grows to its headroom only when a graph needs more, and graphs planned before are then stale', () => {
  const arena = new GraphArena(backend, 'test arena', 1.25);
  const graphOf = (n: number) => {
    const g = new ComputeGraph(backend, { maxNodes: 16, arena });
    const x = g.input('f32', [n], 'x');
    const y = g.output(g.ops.scale(g.ops.add(x, x), 3));
    g.expand(y);
    g.allocate();
    return { g, x, y };
  };
  try {
    const small = graphOf(1000);
    const first = arena.bytes;
    assert.ok(first >= 1.25 * 2 * 4000, `${first} bytes for an input and a result of 4000 bytes each, with headroom`);
    const same = graphOf(1100); // fits the headroom
    assert.equal(arena.bytes, first);
    assert.ok(small.g.valid && same.g.valid);
    const large = graphOf(10000);
    assert.ok(arena.bytes > first);
    assert.ok(!small.g.valid && large.g.valid);
    assert.throws(() => small.g.compute(), /reallocated/);
    large.x.write(new Float32Array(10000).fill(2));
    large.g.compute();
    assert.equal(large.y.readF32()[9999], 12);
    for (const { g } of [small, same, large]) g.free();
  } finally {
    arena.free();
  }
});
