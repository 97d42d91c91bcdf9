/**
 * `grpo doctor`: where ggml was loaded from, the devices its backends found, and the one a run would use for a
 * device setting (default: $GRPO_DEVICE, else auto) — what to check before a GPU run.
 */
import { GGML_BIN_DIR } from '../engine/ffi.ts';
import { listDevices, type DeviceInfo } from '../engine/device.ts';
import { Backend } from '../engine/backend.ts';
import { resolvePrecision } from '../model/weight-copies.ts';

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function runDoctor(o: { device?: string }, print: (line: string) => void = console.log): void {
  const backend = Backend.open({ device: o.device });
  try {
    const chosen = backend.device,
      devices = listDevices();
    print(`ggml: ${GGML_BIN_DIR}`);
    print('devices:');
    for (const d of devices) print(`  ${d.name === chosen.name ? '*' : ' '} ${describe(d)}`);
    const features = [...backend.features].join(' ');
    print(
      `a run with device '${o.device ?? process.env.GRPO_DEVICE ?? 'auto'}' uses ${chosen.name} (${chosen.description})${backend.isCpu ? `, threads: ${backend.threadCount}` : ''}; precision auto = ${resolvePrecision('auto', backend)}${features ? `; features: ${features}` : ''}`,
    );
    if (!devices.some((d) => d.kind !== 'cpu')) print(noGpuHint(GGML_BIN_DIR));
  } finally {
    backend.free();
  }
}

/** Why no GPU is listed: a CPU-only build, or a GPU build that found no device (a driver, not grpo-ts, to fix). */
export function noGpuHint(binDir: string): string {
  const build = /-(vulkan|cuda)(?=[/\\]|$)/.exec(binDir)?.[1];
  if (!build) return 'no GPU backend in this ggml build: npm run install:vulkan (or install:cuda) adds one';
  const check =
    build === 'vulkan'
      ? "vulkaninfo --summary should list it; without a GPU, Mesa's software device (mesa-vulkan-drivers) shows with GGML_VK_VISIBLE_DEVICES=0"
      : 'nvidia-smi should list it';
  return `the ${build} build of ggml found no ${build} device: check the GPU driver (${check})`;
}

function describe(d: DeviceInfo): string {
  const memory = d.memoryTotal > 0 ? `, ${gib(d.memoryFree)} free of ${gib(d.memoryTotal)}` : '';
  return `${d.name.padEnd(8)} ${d.kind.padEnd(6)} ${d.description}${d.software ? ' (software: used only when asked for by name)' : ''}${memory}`;
}
