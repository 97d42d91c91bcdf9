// The device suite runs the engine on a GPU backend (GRPO_DEVICE, default vulkan) beside the CPU and compares.
// Without such a device every test is skipped with the reason; `.ci/run` installs Mesa's software Vulkan device.
import { listDevices } from '../src/engine/device.ts';
import { parseDevice } from '../src/engine/device-setting.ts';
import { LlamaModel } from '../src/model/llama-model.ts';
import type { LlamaConfig } from '../src/model/config.ts';
import type { WeightMap } from '../src/model/host-tensor.ts';

export const DEVICE = process.env.GRPO_DEVICE ?? 'vulkan';
const kind = parseDevice(DEVICE, 'GRPO_DEVICE').kind;

/** why the suite cannot run here (null: it can) */
export const SKIP: string | false = listDevices().some((d) => d.kind === kind)
  ? false
  : `no ${kind} device in this ggml build (npm run install:${kind}; for Vulkan without a GPU: apt-get install mesa-vulkan-drivers and GGML_VK_VISIBLE_DEVICES=0)`;

/**
 * Tolerance of device results against the CPU's, both f32: ggml's GPU kernels sum in other orders (and tiled),
 * so results differ in the last bits — relative 1e-4 of the largest magnitude, not more.
 */
export const REL_TOL = 1e-4;

/** The same model (config, weights) on the CPU and on the device under test. */
export function onBoth(
  config: LlamaConfig,
  weights: WeightMap,
  opts: { valueHead?: boolean } = {},
): { cpu: LlamaModel; dev: LlamaModel; free: () => void } {
  const cpu = new LlamaModel(config, { threads: 1, device: 'cpu', valueHead: opts.valueHead, weights });
  const dev = new LlamaModel(config, { device: DEVICE, valueHead: opts.valueHead, weights });
  return {
    cpu,
    dev,
    free: () => {
      cpu.free();
      dev.free();
    },
  };
}

/** max |a − b| over max |a| (0 when a is all zeros and b equals it) */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0,
    scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff === 0 ? 0 : diff / Math.max(scale, 1e-30);
}
