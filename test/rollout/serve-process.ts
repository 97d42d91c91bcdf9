/**
 * A real `grpo serve` child process on 127.0.0.1 (any free port), started as a trainer's local rollout server is
 * (src/rollout/local-servers.ts: runtime weight updates allowed), for tests that kill servers mid-run.
 */
import { startLocalServers } from '../../src/rollout/local-servers.ts';
import { alive, until } from './process-alive.ts';

export interface ServeProcess {
  /** the API root, http://127.0.0.1:<port>/v1 */
  baseUrl: string;
  /** SIGKILL: the server dies without closing its connections, as a crashed one does; resolves once it is gone */
  kill(): Promise<void>;
}

export async function startServeProcess(model: string): Promise<ServeProcess> {
  const server = await startLocalServers({ count: 1, model, threads: 1, device: 'cpu' });
  const pid = server.pids[0];
  return {
    baseUrl: server.urls[0],
    kill: async () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return; // already gone
      }
      await until(() => !alive(pid), 30_000);
    },
  };
}
