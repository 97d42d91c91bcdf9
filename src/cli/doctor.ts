/**
 * `grpo doctor`: where ggml was loaded from, the devices its backends found, and the one a run would use for a
 * device setting (default: $GRPO_DEVICE, else auto) — what to check before a GPU run.
 */
import { GGML_BIN_DIR } from '../engine/ffi.ts';
import { listDevices, resolveDevice, type DeviceInfo } from '../engine/device.ts';
import { parseDevice } from '../engine/device-setting.ts';
import { Backend, defaultThreadCount } from '../engine/backend.ts';
import { resolvePrecision } from '../model/weight-copies.ts';

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function runDoctor(o: { device?: string }, print: (line: string) => void = console.log): void {
  const setting = o.device ?? process.env.GRPO_DEVICE ?? 'auto';
  const devices = listDevices();
  const chosen = resolveDevice(parseDevice(setting, o.device ? '--device' : process.env.GRPO_DEVICE ? 'GRPO_DEVICE' : 'device'), devices);
  print(`ggml: ${GGML_BIN_DIR}`);
  print('devices:');
  for (const d of devices) print(`  ${d === chosen ? '*' : ' '} ${describe(d)}`);
  const backend = Backend.open({ device: chosen.kind === 'cpu' ? 'cpu' : setting, threads: chosen.kind === 'cpu' ? defaultThreadCount() : 1 });
  try {
    const features = [...backend.features].join(' ');
    print(`a run with device '${setting}' uses ${chosen.name} (${chosen.description})${chosen.kind === 'cpu' ? `, threads: ${backend.threadCount}` : ''}; precision auto = ${resolvePrecision('auto', backend)}${features ? `; features: ${features}` : ''}`);
  } finally {
    backend.free();
  }
  if (!devices.some((d) => d.kind !== 'cpu')) print('no GPU backend in this ggml build: npm run install:vulkan (or install:cuda) adds one');
}

function describe(d: DeviceInfo): string {
  const memory = d.memoryTotal > 0 ? `, ${gib(d.memoryFree)} free of ${gib(d.memoryTotal)}` : '';
  return `${d.name.padEnd(8)} ${d.kind.padEnd(6)} ${d.description}${d.software ? ' (software: used only when asked for by name)' : ''}${memory}`;
}
