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
import { ServerFleet } from '../rollout/server-fleet.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { resolvePrecision } from '../model/weight-copies.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import type { TrainConfig } from './config/schema.ts';
import { WeightPublisher } from './rollout-weight-sync.ts';
import { withLocalServers } from './local-server-plan.ts';
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
  /**
   * make the generator sample from the policy's current weights, published as `version` (the step that made them);
   * resolves to the time spent waiting for the rollout servers to take them
   */
  sync(version: number): Promise<{ waitMs: number }>;
  /** per-server figures for the step's metrics (a fleet: requests served and failed so far, servers in) */
  stats?(): Record<string, number>;
  /** ends what the generator started (a fleet's polling, local rollout servers); the run calls it when it ends, however it ends */
  close?(): Promise<void>;
}

export async function makeRolloutGenerator(
  config: TrainConfig,
  model: LlamaModel,
  tokenizer: Tokenizer,
  runDir: string,
  longestPrompt = 0,
): Promise<RolloutGenerator> {
  const r = config.rollout;
  // rollout.local_servers: a fleet of grpo serve processes of the run's own (local-server-plan.ts)
  if (r.local_servers)
    return withLocalServers(config, (c) => makeRolloutGenerator(c, model, tokenizer, runDir, longestPrompt));
  checkStaleness(r);
  if (r.engine === 'embedded') return embeddedGenerator(r, model);
  if (!r.base_url)
    throw new GrpoError(
      'config',
      "rollout.base_url is needed with rollout.engine 'openai' (e.g. http://127.0.0.1:8000/v1)",
    );
  const fleet = await ServerFleet.open({
    urls: [r.base_url].flat(),
    servedModel: r.served_model,
    apiKey: r.api_key,
    // a whole batch on each server: queued in the trainer, a request is only sent once the update lets go of the
    // event loop (asynchronous rollouts would wait for it)
    concurrency: r.concurrency ?? Math.max(8, r.prompts_per_step),
  });
  checkContext(r, fleet, longestPrompt);
  const publisher = new WeightPublisher(
    model,
    tokenizer,
    path.resolve(runDir, 'rollout-weights'),
    r.api_key,
    1 + r.max_staleness,
  );
  return serverGenerator(r, fleet, publisher);
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
    sync: async () => ({ waitMs: 0 }),
  };
}

/** Asynchronous rollouts need a sampler apart from the trainer that follows its policy versions. */
function checkStaleness(r: RolloutSettings): void {
  if (r.max_staleness === 0) return;
  if (r.engine === 'embedded')
    throw new GrpoError(
      'config',
      `rollout.max_staleness ${r.max_staleness} needs rollout servers (rollout.engine: openai with rollout.base_url): the embedded generator computes on the trainer's own thread, so nothing can overlap; set it to 0 or serve the policy with grpo serve`,
    );
  if (r.weight_sync === 'none')
    throw new GrpoError(
      'config',
      `rollout.max_staleness ${r.max_staleness} bounds how many policy versions the servers may lag, but rollout.weight_sync 'none' never sends them one; use weight_sync 'disk' or max_staleness 0`,
    );
}

/** A server with a shorter context would cut prompts the trainer scores whole: refused before the first step. */
function checkContext(r: RolloutSettings, fleet: ServerFleet, longestPrompt: number): void {
  const context = fleet.contextLength;
  const needed = longestPrompt + r.max_tokens;
  if (context !== undefined && needed > context) {
    throw new GrpoError(
      'config',
      `the rollout server serves '${fleet.servedModel}' with a context of ${context} tokens, but the longest prompt (${longestPrompt}) and rollout.max_tokens (${r.max_tokens}) need ${needed}: start it with a longer context (vLLM --max-model-len ${needed}) or lower data.max_prompt_tokens / rollout.max_tokens`,
    );
  }
}

/**
 * Rollouts from the fleet; each sync saves the policy as the next version, pushes it to every server, and from then
 * on requests go only to servers that took it (naming its adapter, with LoRA).
 */
function serverGenerator(r: RolloutSettings, fleet: ServerFleet, publisher: WeightPublisher): RolloutGenerator {
  return {
    recomputeLogprobs: true,
    generate: (prompts, opts, onPrompt, agent) =>
      agent ? remoteEpisodes(fleet, prompts, opts, agent, onPrompt) : generateRemote(fleet, prompts, opts, onPrompt),
    sync: async (version) => {
      if (r.weight_sync === 'none') return { waitMs: 0 };
      const saved = publisher.save(version);
      // a server takes new weights after the requests it already holds (grpo serve, SGLang): waiting here is
      // waiting for rollouts
      const t0 = performance.now();
      await fleet.broadcast(version, (url) => publisher.push(url, saved));
      publisher.published(saved);
      fleet.use(version, saved.adapter ?? undefined);
      return { waitMs: performance.now() - t0 };
    },
    stats: () => fleetStats(fleet),
    close: async () => fleet.close(),
  };
}

/** `fleet/requests_<i>` and `fleet/failed_<i>` per server (in rollout.base_url's order), and `fleet/servers_up`. */
function fleetStats(fleet: ServerFleet): Record<string, number> {
  const out: Record<string, number> = { 'fleet/servers_up': fleet.servers.filter((s) => s.up).length };
  fleet.servers.forEach((s, i) => {
    out[`fleet/requests_${i}`] = s.served;
    out[`fleet/failed_${i}`] = s.failed;
  });
  return out;
}
