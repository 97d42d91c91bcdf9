/**
 * `grpo dashboard`: a local web server over a runs folder. It only reads files (metrics.jsonl, completions.jsonl,
 * config.yaml), a few new lines at a time, so it never slows a run writing them; under `grpo train --dashboard`
 * it runs in a process of its own, beside the training compute that blocks its process's event loop.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import path from 'node:path';
import { RunStore } from './run-store.ts';
import { htmlPage } from './page.ts';
import { GrpoError } from '../errors.ts';
import { allowedHost } from './host-check.ts';

export interface DashboardOptions {
  runsDir: string;
  /** default 6006 (TensorBoard's), or any free port when that one is taken; a port given is used or refused */
  port?: number;
  host?: string;
}

export interface Dashboard {
  url: string;
  server: Server;
  close: () => Promise<void>;
}

export const DEFAULT_DASHBOARD_PORT = 6006;

/**
 * The dashboard's routes: its page, and JSON for the runs, a run's new metrics or completions lines, its config. A
 * request under a Host name that is not this machine's is refused (host-check.ts).
 */
function dashboardRoutes(root: string, store: RunStore, page: string, boundHost: string): RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const run = url.searchParams.get('run') ?? '';
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const found = <T>(v: T | null) =>
      v === null ? json(404, { error: `no run '${run}' under ${root}` }) : json(200, v);
    try {
      if (!allowedHost(req.headers.host, boundHost))
        return json(403, {
          error: `Host '${req.headers.host}' is refused, a guard against DNS rebinding: open the dashboard at localhost or an IP address of this machine, or start grpo dashboard with --host <that name>`,
        });
      if (req.method !== 'GET') return json(405, { error: 'only GET' });
      switch (url.pathname) {
        case '/':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          return res.end(page);
        case '/api/runs':
          return json(200, { root, runs: store.list() });
        case '/api/metrics':
        case '/api/completions':
          return found(
            store.lines(
              run,
              url.pathname === '/api/metrics' ? 'metrics' : 'completions',
              Number(url.searchParams.get('from') ?? 0) || 0,
            ),
          );
        case '/api/config': {
          const text = store.config(run);
          return found(text === null ? null : { text });
        }
        default:
          return json(404, { error: `no route ${url.pathname}` });
      }
    } catch (e) {
      return json(500, { error: String(e) });
    }
  };
}

/** Binds the port given (or refuses); without one, 6006, or any free port when that one is taken. */
async function listen(server: Server, host: string, port: number | undefined): Promise<void> {
  const on = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await on(port ?? DEFAULT_DASHBOARD_PORT);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (port !== undefined)
      throw new GrpoError(
        'io',
        `port ${port} on ${host} is in use (another dashboard or TensorBoard?): pass --port N, or --port 0 for any free port`,
      );
    await on(0);
  }
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const root = path.resolve(o.runsDir);
  const store = new RunStore(root);
  const page = await htmlPage('dashboard', `grpo-ts · ${root}`);
  const host = o.host ?? '127.0.0.1';
  const server = createServer(dashboardRoutes(root, store, page, host));
  await listen(server, host, o.port);
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
