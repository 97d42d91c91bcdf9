/** A real `grpo serve` child process on 127.0.0.1 (any free port), for tests that kill servers mid-run. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ServeProcess {
  child: ChildProcess;
  /** the API root, http://127.0.0.1:<port>/v1 */
  baseUrl: string;
  /** SIGKILL: the server dies without closing its connections, as a crashed one does */
  kill(): Promise<void>;
}

const MAIN = path.resolve(import.meta.dirname, '../../src/cli/main.ts');

/** Started as a trainer's rollout server is: taking runtime weight updates (--allow-runtime-updates). */
export function startServeProcess(model: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'serve',
      '--model',
      model,
      '--port',
      '0',
      '--threads',
      '1',
      '--allow-runtime-updates',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GRPO_DEVICE: 'cpu' } },
  );
  let err = '';
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m)
        resolve({
          child,
          baseUrl: `${m[1]}/v1`,
          kill: () => {
            child.kill('SIGKILL');
            return exited;
          },
        });
    });
    child.once('exit', (code) => reject(new Error(`grpo serve exited (${code}) before listening: ${err}`)));
  });
}
