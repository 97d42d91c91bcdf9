/**
 * Who generates the rollouts: the policy itself (embedded, batched KV cache), or an external OpenAI-compatible
 * engine (vLLM, SGLang, `grpo serve`) that receives the updated policy after every step:
 * - full weights through SGLang's `POST /update_weights_from_disk`;
 * - with LoRA, only the adapter, through vLLM's `POST /v1/load_lora_adapter` ({lora_name, lora_path}; vLLM needs
 *   VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), under a new name each step (requests then name that adapter) and the
 *   previous one unloaded (`/v1/unload_lora_adapter`). `grpo serve` implements both.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { generate, type GenerateOptions } from '../rollout/generate.ts';
import type { Completion } from '../rollout/completion.ts';
import { generateRemote } from '../rollout/remote-generate.ts';
import { embeddedEpisodes } from '../rollout/embedded-episodes.ts';
import { remoteEpisodes } from '../rollout/remote-episodes.ts';
import type { AgentLoop } from '../rollout/agent-loop.ts';
import { OpenAIClient } from '../rollout/openai-client.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { resolvePrecision } from '../model/weight-copies.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { TrainConfig } from './config/schema.ts';
import { savePolicy } from './save-policy.ts';
import { GrpoError } from '../errors.ts';

export interface RolloutEngine {
  /**
   * true when the sampler's log-probs are not exactly the policy's (another engine, or decoding in another
   * precision than training), so the trainer recomputes the behaviour log-probs itself
   */
  readonly recomputeLogprobs: boolean;
  /**
   * completions of every prompt — with `agent`, multi-turn episodes in its environment; `onPrompt` receives each
   * prompt's group as soon as it is ready (scoring overlaps generation)
   */
  generate(
    prompts: number[][],
    opts: GenerateOptions,
    onPrompt?: (promptIndex: number, group: Completion[]) => void,
    agent?: AgentLoop,
  ): Promise<Completion[]>;
  /** make the engine sample from the policy's current weights */
  sync(): Promise<void>;
}

export async function makeRolloutEngine(
  config: TrainConfig,
  model: LlamaModel,
  tokenizer: Tokenizer,
  runDir: string,
  longestPrompt = 0,
): Promise<RolloutEngine> {
  const r = config.rollout;
  if (r.engine === 'embedded') {
    const precision = resolvePrecision(r.precision ?? model.precision, model.backend);
    return {
      recomputeLogprobs: precision !== model.precision,
      // one blocking batched call: groups are handed over together when it returns
      generate: async (prompts, opts, onPrompt, agent) => {
        if (agent) return embeddedEpisodes(model, prompts, { ...opts, precision }, agent, onPrompt);
        const out = generate(model, prompts, { ...opts, precision });
        if (onPrompt)
          prompts.forEach((_, p) =>
            onPrompt(
              p,
              out.filter((c) => c.promptIndex === p),
            ),
          );
        return out;
      },
      sync: async () => {},
    };
  }
  if (!r.base_url)
    throw new GrpoError(
      'config',
      "rollout.base_url is needed with rollout.engine 'openai' (e.g. http://127.0.0.1:8000/v1)",
    );
  const probe = new OpenAIClient({
    baseUrl: r.base_url,
    model: r.served_model ?? '(listing models)',
    apiKey: r.api_key,
    memoryCache: false,
  });
  const models = await probe.modelInfo();
  const served = r.served_model ?? models[0]?.id;
  if (!served) throw new GrpoError('http', `${r.base_url}/models lists no model`);
  // an engine with a shorter context would cut prompts the trainer scores whole: refuse before the first step
  const context = models.find((m) => m.id === served)?.contextLength;
  const needed = longestPrompt + r.max_tokens;
  if (context !== undefined && needed > context) {
    throw new GrpoError(
      'config',
      `the rollout engine serves '${served}' with a context of ${context} tokens, but the longest prompt (${longestPrompt}) and rollout.max_tokens (${r.max_tokens}) need ${needed}: start it with a longer context (vLLM --max-model-len ${needed}) or lower data.max_prompt_tokens / rollout.max_tokens`,
    );
  }
  // no cache: the same prompt and seed must be sampled again after every weight update
  const clientFor = (name: string) =>
    new OpenAIClient({
      baseUrl: r.base_url!,
      model: name,
      apiKey: r.api_key,
      concurrency: r.concurrency,
      memoryCache: false,
    });
  let client = clientFor(served);
  const syncDir = path.resolve(runDir, 'rollout-weights');
  let adapterName: string | null = null,
    syncs = 0;
  return {
    recomputeLogprobs: true,
    generate: (prompts, opts, onPrompt, agent) =>
      agent ? remoteEpisodes(client, prompts, opts, agent, onPrompt) : generateRemote(client, prompts, opts, onPrompt),
    sync: async () => {
      if (r.weight_sync === 'none') return;
      if (!model.lora) {
        savePolicy(syncDir, model, tokenizer);
        await postJson(rootOf(r.base_url!), '/update_weights_from_disk', { model_path: syncDir }, r.api_key);
        return;
      }
      const name = `grpo-policy-${++syncs}`,
        dir = path.join(syncDir, name);
      savePolicy(dir, model, tokenizer);
      await postJson(
        r.base_url!.replace(/\/+$/, ''),
        '/load_lora_adapter',
        { lora_name: name, lora_path: dir },
        r.api_key,
      );
      if (adapterName) {
        await postJson(
          r.base_url!.replace(/\/+$/, ''),
          '/unload_lora_adapter',
          { lora_name: adapterName },
          r.api_key,
        ).catch(() => {});
        rmSync(path.join(syncDir, adapterName), { recursive: true, force: true });
      }
      adapterName = name;
      client = clientFor(name);
    },
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
    throw new GrpoError('http', `POST ${url} failed: ${(e as Error).message}; is the rollout engine running?`);
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
      `POST ${url} → HTTP ${res.status}: ${text.slice(0, 300)}; the engine must implement ${route.includes('lora') ? "vLLM's runtime LoRA loading (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, --enable-lora)" : "SGLang's update_weights_from_disk"} (or set rollout.weight_sync: none)`,
    );
}
