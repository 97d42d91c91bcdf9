/**
 * `grpo dashboard [RUNS_DIR] [--port N]`, and the dashboard process `grpo train --dashboard` starts beside a run:
 * a process of its own, because a training step's compute holds the trainer's event loop for seconds.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { startDashboard } from '../dashboard/server.ts';
import { GrpoError } from '../errors.ts';
import { moduleExtension, runsFromSources } from '../util/module-extension.ts';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new GrpoError('config', `--port takes a port number 0–65535 (0: any free port), got '${v}'`);
  return n;
};

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description(
      'live web dashboard of the runs under a folder: charts of every metric (runs overlaid), completions, config',
    )
    .argument('[runs_dir]', 'folder holding run folders', 'runs')
    .option('--port <n>', 'port (default 6006, or any free one when 6006 is taken; 0: any free port)', int)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .action(async (runsDir: string, opts: { port?: number; host: string }) => {
      const d = await startDashboard({ runsDir, port: opts.port, host: opts.host });
      console.log(`grpo dashboard: ${d.url} (runs under ${runsDir}; Ctrl-C stops it)`);
      // started by `grpo train --dashboard`: report the address, and end with the run's process
      if (process.send) {
        process.send({ url: d.url });
        process.on('disconnect', () => {
          void d.close().then(() => process.exit(0));
        });
      }
    });
}

/** Start `grpo dashboard` in a child process; resolves with its URL once it listens. */
export function spawnDashboard(runsDir: string, port?: number): Promise<{ url: string; stop: () => void }> {
  const main = fileURLToPath(new URL(`./main${moduleExtension}`, import.meta.url));
  const args = [
    // the sources run through tsx, as this process does; the compiled package needs no loader
    ...(runsFromSources ? ['--import', import.meta.resolve('tsx')] : []),
    main,
    'dashboard',
    runsDir,
    ...(port === undefined ? [] : ['--port', String(port)]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => {
      child.stderr!.removeAllListeners('data');
      child.stderr!.pipe(process.stderr);
      resolve({
        url: m.url,
        stop: () => {
          if (child.connected) child.disconnect();
        },
      });
    });
    child.once('exit', (code) =>
      reject(
        new GrpoError('io', `the dashboard did not start (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`),
      ),
    );
  });
}
