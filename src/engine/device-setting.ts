/**
 * What a `device` setting says — auto | cpu | vulkan[:N] | cuda[:N] | metal — parsed without loading ggml, so
 * config schemas can check it. device.ts resolves it to one of the devices ggml found.
 */
import { GrpoError } from '../errors.ts';

export type DeviceKind = 'cpu' | 'vulkan' | 'cuda' | 'metal';

export interface DeviceSetting {
  kind: DeviceKind | 'auto';
  /** the N of vulkan:N / cuda:N (null: the first) */
  index: number | null;
}

/** what a config's device key may say (config schemas check it with this) */
export const DEVICE_PATTERN = /^(auto|cpu|metal|vulkan(:\d+)?|cuda(:\d+)?)$/;
export const DEVICE_HELP =
  'auto | cpu | vulkan[:N] | cuda[:N] | metal (default: $GRPO_DEVICE, else auto: a real GPU when a GPU build of ggml is installed (npm run install:vulkan / install:cuda), else the CPU)';

/** Parse `auto`, `cpu`, `vulkan`, `vulkan:1`, `cuda:0`, `metal`; anything else is one clear error. */
export function parseDevice(text: string, where = 'model.device'): DeviceSetting {
  const t = text.trim().toLowerCase();
  if (!DEVICE_PATTERN.test(t))
    throw new GrpoError('config', `${where}: '${text}' is not a device; use auto, cpu, vulkan[:N], cuda[:N] or metal`);
  const [kind, n] = t.split(':');
  return { kind: kind as DeviceSetting['kind'], index: n === undefined ? null : Number(n) };
}
