/**
 * Runtime weight and adapter loading (POST /update_weights_from_disk, /v1/load_lora_adapter, /v1/unload_lora_adapter)
 * reads whatever path on this machine a client names, so it is off unless the server is started with
 * --allow-runtime-updates (or GRPO_ALLOW_RUNTIME_UPDATES=1), as vLLM registers its LoRA routes only with
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. With --api-key these routes need the key, as every route but /health and
 * /metrics does.
 */
import { ServeError } from './serve-error.ts';

export const RUNTIME_UPDATES_ENV = 'GRPO_ALLOW_RUNTIME_UPDATES';

/** 403, saying how to turn it on, when the server was not started to take runtime updates. */
export function checkRuntimeUpdates(allowed: boolean, route: string): void {
  if (allowed) return;
  throw new ServeError(
    'forbidden',
    `${route} is off: it loads files from any path a client names; start grpo serve with --allow-runtime-updates (or ${RUNTIME_UPDATES_ENV}=1) to allow it (a trainer pushing weights to this server needs it)`,
  );
}

/** Whether the environment turns runtime updates on: 1 or true (any case), as vLLM reads its flag. */
export function runtimeUpdatesFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true)$/i.test(env[RUNTIME_UPDATES_ENV]?.trim() ?? '');
}
