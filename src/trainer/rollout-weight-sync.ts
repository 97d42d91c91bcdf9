/**
 * The updated policy sent to a rollout server after every step:
 * - full weights through SGLang's `POST /update_weights_from_disk`;
 * - with LoRA, only the adapter, through vLLM's `POST /v1/load_lora_adapter` ({lora_name, lora_path}; vLLM needs
 *   VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), under a new name each step (requests then name that adapter) and the
 *   previous one unloaded (`/v1/unload_lora_adapter`). `grpo serve` implements both.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import { savePolicy } from './save-policy.ts';
import { GrpoError } from '../errors.ts';

/** Where the policy goes: the server's API base URL and key, and the folder the server loads the weights from. */
export interface RolloutServer {
  baseUrl: string;
  apiKey?: string;
  weightsDir: string;
}

/**
 * A function that saves the policy and has the server load it. It resolves to the adapter name requests must
 * name from now on, or null when the served model keeps its name (full weights replaced in place).
 */
export function makeWeightSync(
  server: RolloutServer,
  model: LlamaModel,
  tokenizer: Tokenizer,
): () => Promise<string | null> {
  const { baseUrl, apiKey, weightsDir } = server;
  let adapterName: string | null = null,
    syncs = 0;
  return async () => {
    if (!model.lora) {
      savePolicy(weightsDir, model, tokenizer);
      await postJson(rootOf(baseUrl), '/update_weights_from_disk', { model_path: weightsDir }, apiKey);
      return null;
    }
    const name = `grpo-policy-${++syncs}`,
      dir = path.join(weightsDir, name);
    savePolicy(dir, model, tokenizer);
    await postJson(baseUrl.replace(/\/+$/, ''), '/load_lora_adapter', { lora_name: name, lora_path: dir }, apiKey);
    if (adapterName) {
      await postJson(baseUrl.replace(/\/+$/, ''), '/unload_lora_adapter', { lora_name: adapterName }, apiKey).catch(
        () => {},
      );
      rmSync(path.join(weightsDir, adapterName), { recursive: true, force: true });
    }
    adapterName = name;
    return name;
  };
}

/** The server root of an API base URL: SGLang's admin routes sit beside /v1, not under it. */
function rootOf(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

async function postJson(root: string, route: string, body: unknown, apiKey?: string): Promise<void> {
  const url = root + route;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(600_000),
    });
  } catch (e) {
    throw new GrpoError('http', `POST ${url} failed: ${(e as Error).message}; is the rollout server running?`);
  }
  const text = await res.text();
  let ok = res.ok;
  try {
    ok = ok && (JSON.parse(text) as { success?: boolean }).success !== false;
  } catch {
    /* a non-JSON 2xx counts as success */
  }
  if (!ok)
    throw new GrpoError(
      'http',
      `POST ${url} → HTTP ${res.status}: ${text.slice(0, 300)}; the rollout server must implement ${route.includes('lora') ? "vLLM's runtime LoRA loading (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, --enable-lora)" : "SGLang's update_weights_from_disk"} (or set rollout.weight_sync: none)`,
    );
}
