// Device settings and which device each selects, on device lists as ggml's registry reports them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDevice } from '../../src/engine/device-setting.ts';
import { listDevices, resolveDevice, type DeviceInfo } from '../../src/engine/device.ts';
import { Backend } from '../../src/engine/backend.ts';
import { GrpoError } from '../../src/errors.ts';

const dev = (kind: DeviceInfo['kind'], name: string, description: string, software = false): DeviceInfo => ({
  kind,
  name,
  description,
  software,
  memoryFree: 0,
  memoryTotal: 0,
  ptr: 0n,
});
const cpu = dev('cpu', 'CPU', 'AMD EPYC');
const llvmpipe = dev('vulkan', 'Vulkan0', 'llvmpipe (LLVM 15.0.6, 256 bits)', true);
const rtx = dev('vulkan', 'Vulkan1', 'NVIDIA GeForce RTX 4090');
const cuda0 = dev('cuda', 'CUDA0', 'NVIDIA H100'),
  cuda1 = dev('cuda', 'CUDA1', 'NVIDIA H100');

test('device settings parse as auto, cpu, vulkan[:N], cuda[:N], metal; anything else is one error naming the key', () => {
  assert.deepEqual(parseDevice('auto'), { kind: 'auto', index: null });
  assert.deepEqual(parseDevice(' Vulkan:1 '), { kind: 'vulkan', index: 1 });
  assert.deepEqual(parseDevice('cuda'), { kind: 'cuda', index: null });
  assert.deepEqual(parseDevice('metal'), { kind: 'metal', index: null });
  for (const bad of ['gpu', 'cpu:0', 'metal:1', 'vulkan:', 'cuda:-1', 'rocm']) {
    assert.throws(
      () => parseDevice(bad, '--device'),
      (e: unknown) => e instanceof GrpoError && /--device: '.*' is not a device; use auto, cpu/.test(e.message),
      bad,
    );
  }
});

test('auto prefers a real GPU, never a software one; a named device is found by kind and index', () => {
  assert.equal(resolveDevice(parseDevice('auto'), [llvmpipe, cpu]), cpu);
  assert.equal(resolveDevice(parseDevice('auto'), [llvmpipe, rtx, cpu]), rtx);
  assert.equal(
    resolveDevice(parseDevice('vulkan'), [llvmpipe, rtx, cpu]),
    llvmpipe,
    'asked for by name, the software device is used',
  );
  assert.equal(resolveDevice(parseDevice('vulkan:1'), [llvmpipe, rtx, cpu]), rtx);
  assert.equal(resolveDevice(parseDevice('cuda:1'), [cuda0, cuda1, cpu]), cuda1);
  assert.equal(resolveDevice(parseDevice('cpu'), [cuda0, cpu]), cpu);
  assert.throws(
    () => resolveDevice(parseDevice('cuda'), [llvmpipe, cpu]),
    /no cuda device: ggml found Vulkan0 \(llvmpipe.*npm run install:cuda/,
  );
  assert.throws(
    () => resolveDevice(parseDevice('cuda:2'), [cuda0, cuda1, cpu]),
    /no device cuda:2: there are 2 \(cuda:0 = NVIDIA H100, cuda:1 = NVIDIA H100\)/,
  );
});

test("the registry lists this machine's CPU; a CPU backend opens on it", () => {
  const devices = listDevices();
  assert.ok(devices.some((d) => d.kind === 'cpu'));
  const b = Backend.open({ device: 'cpu', threads: 1 });
  try {
    assert.ok(b.isCpu);
    assert.equal(b.device.kind, 'cpu');
  } finally {
    b.free();
  }
});

test('exact matmuls (GPU backends) make strided operands contiguous first, with the same product', async () => {
  const { ComputeGraph } = await import('../../src/engine/graph.ts');
  const { Ops } = await import('../../src/engine/ops.ts');
  const b = Backend.open({ device: 'cpu', threads: 1 });
  const g = new ComputeGraph(b, { maxNodes: 32 });
  try {
    const A = g.input('f32', [8, 4, 6], 'a'),
      B = g.input('f32', [8, 4, 3], 'b');
    const strided = (ops: InstanceType<typeof Ops>) =>
      ops.matmul(ops.permute(A, [0, 2, 1, 3]), ops.permute(B, [0, 2, 1, 3]));
    const before = g.nodeCount;
    const plain = g.output(strided(g.ops));
    const exactOps = new Ops(g.ctx, true);
    const exact = g.output(strided(exactOps));
    g.expand(plain);
    g.expand(exact);
    assert.equal(
      g.nodeCount - before,
      2 + 2 + 1 + 1 + 2,
      'two permutes and a product each, and two conts for the exact one',
    );
    g.allocate();
    A.write(Float32Array.from({ length: 8 * 4 * 6 }, (_, i) => Math.sin(i)));
    B.write(Float32Array.from({ length: 8 * 4 * 3 }, (_, i) => Math.cos(i)));
    g.compute();
    assert.deepEqual(exact.readF32(), plain.readF32());
  } finally {
    g.free();
    b.free();
  }
});

test('grpo doctor says why no GPU is listed: a CPU-only build needs a GPU build; a GPU build with no device needs a driver', async () => {
  const { noGpuHint } = await import('../../src/cli/doctor.ts');
  assert.match(
    noGpuHint('/p/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64'),
    /no GPU backend in this ggml build: npm run install:vulkan/,
  );
  const vk = noGpuHint('/p/gpu/node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan');
  assert.match(vk, /the vulkan build of ggml found no vulkan device: check the GPU driver \(vulkaninfo/);
  assert.match(vk, /GGML_VK_VISIBLE_DEVICES=0/);
  assert.match(
    noGpuHint('/p/gpu/node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda'),
    /cuda build of ggml found no cuda device: .*nvidia-smi/,
  );
});
