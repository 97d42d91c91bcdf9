/** `grpo serve`: serve a model over an OpenAI-compatible HTTP API until interrupted. */
import { modelOptions, type ModelFlags } from './model-flags.ts';
import { startServer, type RunningServer, type ServeOptions } from '../serve/server.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { runtimeUpdatesFromEnv } from '../serve/runtime-updates.ts';

export { startServer, type RunningServer, type ServeOptions };

export interface ServeCliOptions extends ModelFlags {
  model: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 8000; 0 = any free port (the printed URL says which) */
  port?: number;
  /** bearer token every route but /health and /metrics requires (default: $GRPO_API_KEY; none: open) */
  apiKey?: string;
  /** hidden `--exit-with-parent`: exit when stdin ends (local rollout servers, src/rollout/local-servers.ts) */
  exitWithParent?: boolean;
  /** clients may load weights and adapters from paths they name (default: $GRPO_ALLOW_RUNTIME_UPDATES; off) */
  allowRuntimeUpdates?: boolean;
  /** cut prompts that do not fit from the left instead of answering 400 */
  truncatePrompts?: boolean;
  /** seconds a request may take to arrive whole (default 600; 0: no limit) */
  requestTimeout?: number;
}

/**
 * Opens the model, binds, prints `listening on http://host:port` and keeps serving; SIGINT / SIGTERM close the
 * server (the request being generated finishes first) and free the model, so the process exits.
 */
export async function runServe(
  o: ServeCliOptions,
  print: (line: string) => void = console.log,
): Promise<RunningServer> {
  if (o.exitWithParent) exitWhenStdinEnds();
  const allowRuntimeUpdates = o.allowRuntimeUpdates || runtimeUpdatesFromEnv();
  const running = await startServer({
    ...modelOptions(o),
    model: resolveModelPath(o.model),
    host: o.host,
    port: o.port,
    apiKey: o.apiKey ?? (process.env.GRPO_API_KEY || undefined),
    allowRuntimeUpdates,
    truncatePrompts: o.truncatePrompts,
    requestTimeout: o.requestTimeout,
  });
  const close = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await running.close();
  };
  const onSignal = () => void close();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  print(`serving '${running.modelName}' (context ${running.contextLength} tokens); OpenAI base_url ${running.baseUrl}`);
  if (allowRuntimeUpdates) print('runtime updates on: clients may load weights and adapters from paths they name');
  print(`listening on ${running.url}`);
  return { ...running, close };
}

/**
 * The parent that started this server holds the other end of its stdin, and the kernel closes it when the parent
 * ends, however it ends (kill -9 included): nobody is left to serve, so exit at once. stdin is unref'd, so it does
 * not by itself keep a server that was closed otherwise (SIGTERM) running.
 */
function exitWhenStdinEnds(): void {
  const stdin = process.stdin as NodeJS.ReadStream & { unref?: () => void };
  stdin.on('end', () => process.exit(0));
  stdin.on('error', () => process.exit(0));
  stdin.resume();
  stdin.unref?.();
}
