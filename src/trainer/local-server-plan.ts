/**
 * `rollout.local_servers: N`: the run starts N `grpo serve` processes on its starting policy
 * (src/rollout/local-servers.ts) and takes its rollouts from them as a fleet, as it would from `rollout.base_url`;
 * each step's weights reach them as they reach any rollout server (rollout-weight-sync.ts), and they end with the run.
 *
 * The machine's cores are shared: unless set, each server gets floor(cores / (N + 1)) threads (at least one) — with
 * model.threads set, what the trainer leaves, split among the servers — and the trainer the cores the servers leave.
 */
import os from 'node:os';
import path from 'node:path';
import { startLocalServers } from '../rollout/local-servers.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import type { TrainConfig } from './config/schema.ts';

/** Threads of each local server and of the trainer, or null without local servers. */
export function localServerThreads(
  config: TrainConfig,
  cores = os.availableParallelism(),
): { server: number; trainer: number } | null {
  const n = config.rollout.local_servers;
  if (!n) return null;
  const own = config.model.threads;
  const server =
    config.rollout.local_server_threads ??
    Math.max(1, Math.floor(own === undefined ? cores / (n + 1) : (cores - own) / n));
  return { server, trainer: own ?? Math.max(1, cores - n * server) };
}

/** The policy's compute threads: model.threads, else what local servers leave, else unset (one per core). */
export function trainerThreads(config: TrainConfig): number | undefined {
  return config.model.threads ?? localServerThreads(config)?.trainer;
}

/**
 * Starts the local servers and opens a generator on them through `open` (given the config with the servers as its
 * `rollout.base_url`); the generator's `close()` stops them, and so does a failure to open it.
 */
export async function withLocalServers<G extends { close?(): Promise<void> }>(
  config: TrainConfig,
  open: (config: TrainConfig) => Promise<G>,
): Promise<G> {
  const r = config.rollout;
  const m = config.model;
  const servers = await startLocalServers({
    count: r.local_servers!,
    model: path.resolve(resolveModelPath(m.path)),
    threads: localServerThreads(config)!.server,
    tokenizer: m.tokenizer ? path.resolve(m.tokenizer) : undefined,
    // the servers sample as the policy decodes: in the rollout's precision, else the model's
    precision: r.precision ?? m.precision,
    device: m.device,
    apiKey: r.api_key,
    // what goes wrong in a server is worth seeing; its routine line per step (a weight or adapter load) is not
    log: (line) => {
      if (!/grpo serve: (updated weights from|loaded LoRA adapter) /.test(line)) console.error(line);
    },
  });
  let generator: G;
  try {
    generator = await open({
      ...config,
      rollout: { ...r, engine: 'openai', base_url: servers.urls, local_servers: undefined },
    });
  } catch (e) {
    await servers.stop();
    throw e;
  }
  const closeGenerator = generator.close?.bind(generator);
  generator.close = async () => {
    try {
      await closeGenerator?.();
    } finally {
      await servers.stop();
    }
  };
  return generator;
}
