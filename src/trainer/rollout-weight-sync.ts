/**
 * The updated policy sent to the rollout servers after every step:
 * - full weights through SGLang's `POST /update_weights_from_disk`;
 * - with LoRA, only the adapter, through vLLM's `POST /v1/load_lora_adapter` ({lora_name, lora_path}; vLLM needs
 *   VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), under a new name each version (requests then name that adapter); the
 *   adapters of the last `keep` versions stay loaded (asynchronous rollouts may still name them) and older ones are
 *   unloaded (`/v1/unload_lora_adapter`). `grpo serve` implements both, when started with
 *   --allow-runtime-updates.
 * The policy is saved once per version and pushed to each server of the fleet (server-fleet.ts).
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import { savePolicy } from './save-policy.ts';
import { GrpoError } from '../errors.ts';

/** A saved policy version: the folder the servers load, and the adapter name requests name (null: full weights). */
export interface SavedPolicy {
  version: number;
  dir: string;
  adapter: string | null;
}

export class WeightPublisher {
  /** the adapters still loaded on the servers, oldest first */
  private live: SavedPolicy[] = [];

  constructor(
    private readonly model: LlamaModel,
    private readonly tokenizer: Tokenizer,
    /** the folder the servers load the weights from */
    private readonly weightsDir: string,
    private readonly apiKey?: string,
    /** adapter versions kept loaded: 1 + rollout.max_staleness */
    private readonly keep = 1,
  ) {}

  /** Saves the policy as `version` (full weights replace the last in place; an adapter gets its own folder). */
  save(version: number): SavedPolicy {
    const adapter = this.model.lora ? `grpo-policy-${version}` : null;
    const dir = adapter ? path.join(this.weightsDir, adapter) : this.weightsDir;
    savePolicy(dir, this.model, this.tokenizer);
    return { version, dir, adapter };
  }

  /** Has the server at `baseUrl` load `saved`, and drop the adapters that publishing it retires. */
  async push(baseUrl: string, saved: SavedPolicy): Promise<void> {
    const api = baseUrl.replace(/\/+$/, '');
    if (!saved.adapter) {
      await postJson(rootOf(api), '/update_weights_from_disk', { model_path: saved.dir }, this.apiKey);
      return;
    }
    await postJson(api, '/load_lora_adapter', { lora_name: saved.adapter, lora_path: saved.dir }, this.apiKey);
    for (const old of this.retiredBy(saved))
      await postJson(api, '/unload_lora_adapter', { lora_name: old.adapter }, this.apiKey).catch(() => {});
  }

  /** After every server had its chance at `saved`: the adapters it retires are no longer read from disk. */
  published(saved: SavedPolicy): void {
    if (!saved.adapter) return;
    for (const old of this.retiredBy(saved)) rmSync(old.dir, { recursive: true, force: true });
    this.live = [...this.live.filter((p) => p.adapter !== saved.adapter), saved].slice(-this.keep);
  }

  /** The adapters that fall out of the last `keep` versions once `saved` is live. */
  private retiredBy(saved: SavedPolicy): SavedPolicy[] {
    const others = this.live.filter((p) => p.adapter !== saved.adapter);
    return others.slice(0, Math.max(0, others.length + 1 - this.keep));
  }
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
      `POST ${url} → HTTP ${res.status}: ${text.slice(0, 300)}; the rollout server must implement ${route.includes('lora') ? "vLLM's runtime LoRA loading (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, --enable-lora)" : "SGLang's update_weights_from_disk"} and take runtime updates (grpo serve: --allow-runtime-updates), or set rollout.weight_sync: none`,
    );
}
