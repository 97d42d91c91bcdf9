/**
 * What generates a step's completions: the policy itself (embedded, batched KV cache), or an OpenAI-compatible
 * rollout server (vLLM, SGLang, `grpo serve`) that receives the updated policy after every step
 * (rollout-weight-sync.ts). The config chooses with `rollout.engine: embedded | openai`.
 */
import path from 'node:path';
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
import { makeWeightSync } from './rollout-weight-sync.ts';
import { GrpoError } from '../errors.ts';

type RolloutSettings = TrainConfig['rollout'];

export interface RolloutGenerator {
  /**
   * true when the sampler's log-probs are not exactly the policy's (a rollout server, or decoding in another
   * precision than training), so the trainer recomputes the behaviour log-probs itself
   */
  readonly recomputeLogprobs: boolean;
  /**
   * completions of every prompt — with `agent`, multi-turn episodes in its environment; `onPrompt` receives each
   * prompt's group as soon as it is ready (rewarding overlaps generation)
   */
  generate(
    prompts: number[][],
    opts: GenerateOptions,
    onPrompt?: (promptIndex: number, group: Completion[]) => void,
    agent?: AgentLoop,
  ): Promise<Completion[]>;
  /** make the generator sample from the policy's current weights */
  sync(): Promise<void>;
}

export async function makeRolloutGenerator(
  config: TrainConfig,
  model: LlamaModel,
  tokenizer: Tokenizer,
  runDir: string,
  longestPrompt = 0,
): Promise<RolloutGenerator> {
  const r = config.rollout;
  if (r.engine === 'embedded') return embeddedGenerator(r, model);
  if (!r.base_url)
    throw new GrpoError(
      'config',
      "rollout.base_url is needed with rollout.engine 'openai' (e.g. http://127.0.0.1:8000/v1)",
    );
  const served = await servedModel(r, r.base_url, longestPrompt);
  const pushWeights = makeWeightSync(
    { baseUrl: r.base_url, apiKey: r.api_key, weightsDir: path.resolve(runDir, 'rollout-weights') },
    model,
    tokenizer,
  );
  return serverGenerator(r, r.base_url, served, pushWeights);
}

/** The policy decodes its own rollouts, in the rollout's precision when it has one. */
function embeddedGenerator(r: RolloutSettings, model: LlamaModel): RolloutGenerator {
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

/**
 * The model the rollout server serves (rollout.served_model, else the first it lists). A server with a shorter
 * context would cut prompts the trainer scores whole: it is refused before the first step.
 */
async function servedModel(r: RolloutSettings, baseUrl: string, longestPrompt: number): Promise<string> {
  const probe = new OpenAIClient({
    baseUrl,
    model: r.served_model ?? '(listing models)',
    apiKey: r.api_key,
    memoryCache: false,
  });
  const models = await probe.modelInfo();
  const served = r.served_model ?? models[0]?.id;
  if (!served) throw new GrpoError('http', `${baseUrl}/models lists no model`);
  const context = models.find((m) => m.id === served)?.contextLength;
  const needed = longestPrompt + r.max_tokens;
  if (context !== undefined && needed > context) {
    throw new GrpoError(
      'config',
      `the rollout server serves '${served}' with a context of ${context} tokens, but the longest prompt (${longestPrompt}) and rollout.max_tokens (${r.max_tokens}) need ${needed}: start it with a longer context (vLLM --max-model-len ${needed}) or lower data.max_prompt_tokens / rollout.max_tokens`,
    );
  }
  return served;
}

/** Rollouts from the server; after each sync, requests name the adapter it loaded (with LoRA). */
function serverGenerator(
  r: RolloutSettings,
  baseUrl: string,
  served: string,
  pushWeights: () => Promise<string | null>,
): RolloutGenerator {
  // no cache: the same prompt and seed must be sampled again after every weight update
  const clientFor = (name: string) =>
    new OpenAIClient({ baseUrl, model: name, apiKey: r.api_key, concurrency: r.concurrency, memoryCache: false });
  let client = clientFor(served);
  return {
    recomputeLogprobs: true,
    generate: (prompts, opts, onPrompt, agent) =>
      agent ? remoteEpisodes(client, prompts, opts, agent, onPrompt) : generateRemote(client, prompts, opts, onPrompt),
    sync: async () => {
      if (r.weight_sync === 'none') return;
      const adapter = await pushWeights();
      if (adapter) client = clientFor(adapter);
    },
  };
}
