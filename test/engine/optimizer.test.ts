/**
 * AdamW, clipping and gradient accumulation against the textbook formulas on toy tensors. Each "backward" adds
 * given gradients into the optimizer's accumulators exactly as the model's backward does (in place).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backend } from '../../src/engine/backend.ts';
import { TensorStore } from '../../src/engine/store.ts';
import { ComputeGraph } from '../../src/engine/graph.ts';
import { AdamW } from '../../src/engine/optimizer.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { GrpoError } from '../../src/errors.ts';

function toyProblem(backend: Backend, opts: ConstructorParameters<typeof AdamW>[2], grouped = false) {
  const store = new TensorStore(4);
  const w = store.declare('f32', [3, 2], 'w'); // a matrix: decayed
  const b = store.declare('f32', [3], 'b'); // a vector: not decayed by default
  store.allocate(backend);
  // grouped: w is the policy ('default'), b a critic head of its own
  const opt = new AdamW(
    backend,
    grouped
      ? [
          { name: 'default', params: [w] },
          { name: 'critic', params: [b] },
        ]
      : [w, b],
    opts,
  );
  const graph = new ComputeGraph(backend, { maxNodes: 64, externalTensors: 5 });
  const cw = graph.input('f32', [3, 2], 'cw');
  const cb = graph.input('f32', [3], 'cb');
  graph.expand(graph.ops.addInto(opt.gradOf(w), cw));
  graph.expand(graph.ops.addInto(opt.gradOf(b), cb));
  graph.allocate();
  const backward = (gw: number[], gb: number[]) => {
    cw.write(Float32Array.from(gw));
    cb.write(Float32Array.from(gb));
    graph.compute();
  };
  return {
    w,
    b,
    opt,
    backward,
    free: () => {
      graph.free();
      opt.free();
      store.free();
    },
  };
}

/** torch.optim.AdamW, written out in float64 */
function textbookAdamW(w: number[], grads: number[][], lrs: number[], b1: number, b2: number, eps: number, wd: number) {
  const m = w.map(() => 0),
    v = w.map(() => 0);
  let x = [...w];
  grads.forEach((g, k) => {
    const t = k + 1,
      lr = lrs[k];
    x = x.map((xi, i) => {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - b1 ** t),
        vh = v[i] / (1 - b2 ** t);
      return xi * (1 - lr * wd) - (lr * mh) / (Math.sqrt(vh) + eps);
    });
  });
  return x;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test('AdamW matches the textbook update over several steps, with decoupled weight decay on matrices only', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 });
  const w0 = [0.5, -1, 2, 0.25, -0.75, 1.5],
    b0 = [1, -2, 0.5];
  p.w.write(Float32Array.from(w0));
  p.b.write(Float32Array.from(b0));
  const gw = [
    [1, -2, 0.5, 3, -1, 0.1],
    [0.2, 0.4, -0.6, 1, 2, -3],
    [-1, 1, -1, 1, -1, 1],
  ];
  const gb = [
    [0.3, -0.1, 2],
    [1, 1, 1],
    [-0.5, 0.25, 4],
  ];
  const lrs = [0.1, 0.05, 0.02];
  for (let k = 0; k < 3; k++) {
    p.backward(gw[k], gb[k]);
    const r = p.opt.step({ lr: lrs[k] });
    assert.equal(r.skipped, false);
    assert.ok(Math.abs(r.gradNorm - Math.hypot(...gw[k], ...gb[k])) < 1e-5);
  }
  close(p.w.readF32(), textbookAdamW(w0, gw, lrs, 0.8, 0.95, 1e-6, 0.1), 2e-6, 'w');
  close(p.b.readF32(), textbookAdamW(b0, gb, lrs, 0.8, 0.95, 1e-6, 0), 2e-6, 'b');
  assert.equal(p.opt.stepCount, 3);
  p.free();
  backend.free();
});

test('global-norm clipping scales the gradient by max/(norm + 1e-6), as torch clip_grad_norm_', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, {});
  const w0 = [1, 2, 3, 4, 5, 6],
    b0 = [0, 0, 0];
  p.w.write(Float32Array.from(w0));
  p.b.write(Float32Array.from(b0));
  const gw = [3, 0, 0, 0, 0, 0],
    gb = [4, 0, 0]; // norm 5
  p.backward(gw, gb);
  const r = p.opt.step({ lr: 0.1, maxGradNorm: 1 });
  assert.ok(Math.abs(r.gradNorm - 5) < 1e-6);
  const s = 1 / (5 + 1e-6);
  close(p.w.readF32(), textbookAdamW(w0, [gw.map((g) => g * s)], [0.1], 0.9, 0.999, 1e-8, 0), 1e-6, 'w');
  close(p.b.readF32(), textbookAdamW(b0, [gb.map((g) => g * s)], [0.1], 0.9, 0.999, 1e-8, 0), 1e-6, 'b');
  p.free();
  backend.free();
});

test('gradients accumulate over micro-batches until step(), then reset', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, {});
  p.backward([1, 2, 3, 4, 5, 6], [1, 1, 1]);
  p.backward([1, 0, -3, 0, 0, 0], [0, 1, 2]);
  close(p.opt.gradOf(p.w).readF32(), [2, 2, 0, 4, 5, 6], 0, 'accumulated grad w');
  close(p.opt.gradOf(p.b).readF32(), [1, 2, 3], 0, 'accumulated grad b');
  p.opt.step({ lr: 0.01 });
  close(p.opt.gradOf(p.w).readF32(), [0, 0, 0, 0, 0, 0], 0, 'grad after step');
  p.free();
  backend.free();
});

test('a non-finite gradient skips the update, leaves weights and moments untouched, and clears the gradient', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, {});
  p.w.write(Float32Array.from([1, 2, 3, 4, 5, 6]));
  p.backward([1, NaN, 0, 0, 0, 0], [0, 0, 0]);
  const r = p.opt.step({ lr: 0.1 });
  assert.equal(r.skipped, true);
  assert.ok(Number.isNaN(r.gradNorm));
  close(p.w.readF32(), [1, 2, 3, 4, 5, 6], 0, 'w');
  assert.equal(p.opt.stepCount, 0);
  const state = p.opt.exportState();
  assert.ok(state.m.every((m) => m.every((x) => x === 0)) && state.v.every((v) => v.every((x) => x === 0)));
  close(p.opt.gradOf(p.w).readF32(), [0, 0, 0, 0, 0, 0], 0, 'grad after skip');
  p.free();
  backend.free();
});

test('optimizer state round-trips through export/import and continues identically', () => {
  const backend = Backend.cpu({ threads: 1 });
  const run = (restoreAfterFirst: boolean) => {
    const p = toyProblem(backend, { weightDecay: 0.01 });
    p.w.write(Float32Array.from([1, 2, 3, 4, 5, 6]));
    p.backward([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    p.opt.step({ lr: 0.1 });
    if (restoreAfterFirst) {
      const s = p.opt.exportState();
      const wSaved = p.w.readF32(),
        bSaved = p.b.readF32();
      p.free();
      const q = toyProblem(backend, { weightDecay: 0.01 });
      q.opt.importState(s);
      q.w.write(wSaved);
      q.b.write(bSaved);
      q.backward([-1, 0, 1, 0, -1, 0], [3, 2, 1]);
      q.opt.step({ lr: 0.1 });
      const out = [...q.w.readF32(), ...q.b.readF32()];
      q.free();
      return out;
    }
    p.backward([-1, 0, 1, 0, -1, 0], [3, 2, 1]);
    p.opt.step({ lr: 0.1 });
    const out = [...p.w.readF32(), ...p.b.readF32()];
    p.free();
    return out;
  };
  assert.deepEqual(run(true), run(false));
  backend.free();
});

test('AdamW rejects bad hyper-parameters with a clear error', () => {
  const backend = Backend.cpu({ threads: 1 });
  const store = new TensorStore(1);
  const w: Tensor = store.declare('f32', [2], 'w');
  store.allocate(backend);
  assert.throws(() => new AdamW(backend, [w], { beta1: 1 }), /betas must lie in \[0, 1\)/);
  assert.throws(() => new AdamW(backend, [], {}), /at least one parameter/);
  store.free();
  backend.free();
});

test('a large parameter: the norm is taken over slices and the step scales the gradient in place, so the optimizer graphs hold no gradient-sized temporary', () => {
  const backend = Backend.cpu({ threads: 2 });
  const n = (1 << 23) + 1000; // two whole 2^22 slices and a short one
  const store = new TensorStore(1);
  const w = store.declare('f32', [n], 'w');
  store.allocate(backend);
  const opt = new AdamW(backend, [w], { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const g = new Float32Array(n),
    w0 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    g[i] = Math.sin(i * 0.37) * (i % 7) * 0.1;
    w0[i] = Math.cos(i * 0.11);
  }
  w.write(w0);
  opt.gradOf(w).write(g);
  const expectedNorm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(opt.gradNorm() - expectedNorm) < 1e-4 * expectedNorm, `norm ${opt.gradNorm()} vs ${expectedNorm}`);
  assert.ok(
    opt.graphBytes < (4 * n) / 2,
    `the optimizer graphs hold ${opt.graphBytes} bytes beside a ${4 * n}-byte parameter`,
  );
  // clipped to norm 1: the first Adam step moves each weight by lr·sign(g) (|m̂|/√v̂ = 1), whatever the scale
  const r = opt.step({ lr: 0.01, maxGradNorm: 1 });
  assert.ok(!r.skipped && Math.abs(r.gradNorm - expectedNorm) < 1e-4 * expectedNorm);
  const w1 = w.readF32();
  for (const i of [1, 5, 12345, n - 1])
    if (g[i] !== 0) assert.ok(Math.abs(w1[i] - (w0[i] - 0.01 * Math.sign(g[i]))) < 1e-5, `w[${i}]`);
  assert.deepEqual(opt.gradOf(w).readF32().slice(0, 8), new Float32Array(8), 'gradients are zeroed after the step');
  opt.free();
  store.free();
  backend.free();
});

test('parameter groups: each group steps as AdamW by hand at its own lr, clipped to its own norm', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 }, true);
  const w0 = [0.5, -1, 2, 0.25, -0.75, 1.5],
    b0 = [1, -2, 0.5];
  p.w.write(Float32Array.from(w0));
  p.b.write(Float32Array.from(b0));
  const gw = [
    [1, -2, 0.5, 3, -1, 0.1],
    [0.2, 0.4, -0.6, 1, 2, -3],
  ];
  const gb = [
    [0.3, -0.1, 2],
    [0.01, 0.02, -0.02],
  ];
  const lrW = [0.1, 0.05],
    lrB = [0.5, 0.25];
  // max norm 1: w's gradients (norms 3.9, 3.7) are scaled down on their own; b's second (0.03) is left as it is,
  // which one global norm over both groups would not do
  const clipped = (g: number[]) => {
    const n = Math.hypot(...g);
    return n > 1 ? g.map((x) => x / (n + 1e-6)) : g;
  };
  for (let k = 0; k < 2; k++) {
    p.backward(gw[k], gb[k]);
    const r = p.opt.step({ lr: { default: lrW[k], critic: lrB[k] }, maxGradNorm: 1 });
    assert.ok(
      Math.abs(r.groupNorms.default - Math.hypot(...gw[k])) < 1e-5 &&
        Math.abs(r.groupNorms.critic - Math.hypot(...gb[k])) < 1e-5,
    );
    assert.ok(Math.abs(r.gradNorm - Math.hypot(...gw[k], ...gb[k])) < 1e-5);
  }
  close(p.w.readF32(), textbookAdamW(w0, gw.map(clipped), lrW, 0.8, 0.95, 1e-6, 0.1), 2e-6, 'w');
  close(p.b.readF32(), textbookAdamW(b0, gb.map(clipped), lrB, 0.8, 0.95, 1e-6, 0), 2e-6, 'b');
  assert.deepEqual(p.opt.stepCounts(), { default: 2, critic: 2 });
  p.free();
  backend.free();
});

test("stepping one group leaves the other's gradient, moments and step count alone; each counts its own t", () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, {}, true);
  const w0 = [1, 2, 3, 4, 5, 6],
    b0 = [1, 1, 1];
  p.w.write(Float32Array.from(w0));
  p.b.write(Float32Array.from(b0));
  // three critic steps (ORZ's critic_update_steps) while the policy's gradient waits in its accumulator
  const gb = [
    [1, -1, 0.5],
    [-2, 0.5, 1],
    [0.25, 0.25, -4],
  ];
  p.backward([0.5, 0, -0.5, 1, 0, 0], [0, 0, 0]);
  for (const g of gb) {
    p.backward([0, 0, 0, 0, 0, 0], g);
    const r = p.opt.step({ lr: { critic: 0.05 }, groups: ['critic'] });
    assert.deepEqual(Object.keys(r.groupNorms), ['critic']);
  }
  close(p.w.readF32(), w0, 0, 'w untouched');
  close(p.opt.gradOf(p.w).readF32(), [0.5, 0, -0.5, 1, 0, 0], 0, 'the policy gradient is kept');
  assert.deepEqual(p.opt.stepCounts(), { default: 0, critic: 3 });
  close(p.b.readF32(), textbookAdamW(b0, gb, [0.05, 0.05, 0.05], 0.9, 0.999, 1e-8, 0), 1e-6, 'b');
  // the policy's first step has t = 1 (bias corrections of a first step), whatever the critic did
  p.opt.step({ lr: 0.01, groups: ['default'] });
  close(p.w.readF32(), textbookAdamW(w0, [[0.5, 0, -0.5, 1, 0, 0]], [0.01], 0.9, 0.999, 1e-8, 0), 1e-6, 'w');
  assert.deepEqual(p.opt.stepCounts(), { default: 1, critic: 3 });
  assert.equal(p.opt.stepCount, 1, "stepCount is the first group's");
  assert.equal(p.opt.updates, 4);
  p.free();
  backend.free();
});

test('grouped state round-trips with its step counts; a state from before groups resumes every group at its step', () => {
  const backend = Backend.cpu({ threads: 1 });
  const p = toyProblem(backend, {}, true);
  p.backward([1, 2, 3, 4, 5, 6], [1, 2, 3]);
  p.opt.step({ lr: { critic: 0.1 }, groups: ['critic'] });
  const s = p.opt.exportState();
  assert.deepEqual(s.steps, { default: 0, critic: 1 });
  const q = toyProblem(backend, {}, true);
  q.opt.importState(s);
  assert.deepEqual(q.opt.stepCounts(), { default: 0, critic: 1 });
  close(q.opt.exportState().m[1], s.m[1], 0, 'critic moments');
  q.opt.importState({ step: 5, m: s.m, v: s.v });
  assert.deepEqual(q.opt.stepCounts(), { default: 5, critic: 5 });
  // checkpoint names follow the order they are asked in, whatever the groups
  assert.deepEqual(
    q.opt.momentTensors([q.b, q.w]).map(([n]) => n),
    ['m.0', 'v.0', 'm.1', 'v.1'],
  );
  assert.equal(q.opt.momentTensors([q.b, q.w])[0][1], q.opt.momentTensors()[2][1], "m.0 of [b, w] is b's moment");
  p.free();
  q.free();
  backend.free();
});

test('parameter groups: bad groups and learning rates are one clear error each', () => {
  const backend = Backend.cpu({ threads: 1 });
  const store = new TensorStore(2);
  const w: Tensor = store.declare('f32', [2], 'w');
  const b: Tensor = store.declare('f32', [2], 'b');
  store.allocate(backend);
  assert.throws(
    () =>
      new AdamW(backend, [
        { name: 'a', params: [w] },
        { name: 'a', params: [b] },
      ]),
    /distinct names/,
  );
  assert.throws(
    () =>
      new AdamW(backend, [
        { name: 'a', params: [w] },
        { name: 'b', params: [w] },
      ]),
    /more than one AdamW group/,
  );
  assert.throws(
    () =>
      new AdamW(backend, [
        { name: 'a', params: [w] },
        { name: 'b', params: [] },
      ]),
    /group 'b' has no parameters/,
  );
  const opt = new AdamW(backend, [
    { name: 'a', params: [w] },
    { name: 'b', params: [b] },
  ]);
  assert.throws(
    () => opt.step({ lr: { a: 0.1 } }),
    (e: unknown) => e instanceof GrpoError && /learning rate of group 'b' must be ≥ 0, got undefined/.test(e.message),
  );
  assert.throws(
    () => opt.step({ lr: 0.1, groups: ['c'] }),
    (e: unknown) => e instanceof GrpoError && /no parameter group 'c' \(groups: a, b\)/.test(e.message),
  );
  assert.throws(() => opt.setStepCounts({ a: 1 }), /group 'b' must be an integer ≥ 0, got undefined/);
  opt.free();
  store.free();
  backend.free();
});
