/**
 * Compute devices: what ggml's backend registry found (CPU, Vulkan, CUDA, Metal devices) and which one a
 * `model.device` setting — auto | cpu | vulkan[:N] | cuda[:N] | metal — selects. `auto` prefers a real GPU:
 * a software Vulkan device (Mesa's llvmpipe/lavapipe, SwiftShader) is used only when asked for by name.
 */
import { ggml, GGML_BIN_DIR, type Ptr } from './ffi.ts';
import { GrpoError } from '../errors.ts';
import type { DeviceKind, DeviceSetting } from './device-setting.ts';

export interface DeviceInfo {
  kind: DeviceKind;
  /** ggml's name: CPU, Vulkan0, CUDA0, … */
  name: string;
  description: string;
  /** a GPU that runs in software on the CPU */
  software: boolean;
  /** bytes (0 where the backend does not say) */
  memoryFree: number;
  memoryTotal: number;
  ptr: Ptr;
}

let registryLoaded = false;

/** Load every backend shipped beside libggml-base (CPU variants, and Vulkan/CUDA/Metal in a GPU build), once. */
export function loadBackendRegistry(): void {
  if (registryLoaded) return;
  // RL needs the f32 policy's numbers (importance ratios of log-probs): ggml-vulkan otherwise multiplies f32
  // matrices in f16 where the device has it (measured: 1.3e-3 off on values of ~4, against 3e-6 without)
  process.env.GGML_VK_DISABLE_F16 ??= '1';
  ggml.backend_load_all_from_path(GGML_BIN_DIR);
  registryLoaded = true;
}

const SOFTWARE_GPU = /llvmpipe|lavapipe|swiftshader|softpipe/i;

function kindOf(regName: string): DeviceKind | null {
  const r = regName.toLowerCase();
  return r === 'cpu'
    ? 'cpu'
    : r === 'vulkan'
      ? 'vulkan'
      : r === 'cuda'
        ? 'cuda'
        : r === 'metal' || r === 'mtl'
          ? 'metal'
          : null;
}

/** Every device the registry found, in its order (GPUs before the CPU). */
export function listDevices(): DeviceInfo[] {
  loadBackendRegistry();
  const out: DeviceInfo[] = [];
  const n = Number(ggml.backend_dev_count());
  for (let i = 0; i < n; i++) {
    const ptr: Ptr = ggml.backend_dev_get(i);
    const kind = kindOf(ggml.backend_reg_name(ggml.backend_dev_backend_reg(ptr)) as string);
    if (!kind) continue; // other backends (BLAS, RPC, …) are not devices a model is placed on
    const free = [0n],
      total = [0n];
    ggml.backend_dev_memory(ptr, free, total);
    const description = ggml.backend_dev_description(ptr) as string;
    out.push({
      kind,
      name: ggml.backend_dev_name(ptr) as string,
      description,
      software: kind !== 'cpu' && SOFTWARE_GPU.test(description),
      memoryFree: Number(free[0]),
      memoryTotal: Number(total[0]),
      ptr,
    });
  }
  return out;
}

/** The device a setting selects, or one error saying what was found and how to get what was asked for. */
export function resolveDevice(setting: DeviceSetting, devices: DeviceInfo[] = listDevices()): DeviceInfo {
  const cpu = devices.find((d) => d.kind === 'cpu');
  if (!cpu) throw new GrpoError('engine', `ggml found no CPU device in ${GGML_BIN_DIR}`);
  if (setting.kind === 'auto') return devices.find((d) => d.kind !== 'cpu' && !d.software) ?? cpu;
  if (setting.kind === 'cpu') return cpu;
  const ofKind = devices.filter((d) => d.kind === setting.kind);
  const found = devices.map((d) => `${d.name} (${d.description})`).join(', ');
  if (ofKind.length === 0) {
    const install =
      setting.kind === 'metal' ? 'a macOS build of ggml' : `the ${setting.kind} build: npm run install:${setting.kind}`;
    throw new GrpoError(
      'engine',
      `no ${setting.kind} device: ggml found ${found}; install ${install} (and the GPU's driver), or use --device cpu`,
    );
  }
  const i = setting.index ?? 0;
  if (i >= ofKind.length)
    throw new GrpoError(
      'engine',
      `no device ${setting.kind}:${i}: there ${ofKind.length === 1 ? 'is one' : `are ${ofKind.length}`} (${ofKind.map((d, k) => `${setting.kind}:${k} = ${d.description}`).join(', ')})`,
    );
  return ofKind[i];
}
