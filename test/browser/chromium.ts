/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages ending
 * in NUL on file descriptors 3 and 4), for browser tests and the README screenshots. No npm dependency:
 * puppeteer-core needs Node 22 and a matching browser; this needs only Debian's `chromium`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The Chromium to use: $GRPO_CHROMIUM, else the first of chromium / chromium-browser / google-chrome on PATH. */
export function findChromium(): string | null {
  if (process.env.GRPO_CHROMIUM) return process.env.GRPO_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

export const NO_CHROMIUM =
  'Chromium not found: install it (apt-get install -y chromium; .ci/run does) or set GRPO_CHROMIUM';

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string };

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  /** protocol events (messages without an id), by session */
  readonly listeners: ((method: string, params: Record<string, unknown>, sessionId?: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const out = child.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: { message: string };
          method?: string;
          params?: Record<string, unknown>;
          sessionId?: string;
        };
        this.buffer = this.buffer.slice(end + 1);
        if (msg.method) for (const l of this.listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
        const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id!);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      }
    });
    child.once('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`Chromium exited during ${p.method}`));
    });
  }

  static async launch(executable: string): Promise<Browser> {
    const profile = mkdtempSync(path.join(tmpdir(), 'grpo-chromium-'));
    const child = spawn(
      executable,
      [
        '--headless',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--hide-scrollbars',
        '--font-render-hinting=none',
        // the sandbox needs user namespaces, which containers (and root in them) often lack; the pages are our own
        '--no-sandbox',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const b = new Browser(child, profile);
    await b.send('Browser.getVersion');
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.child.stdio[3] as Writable).write(JSON.stringify({ id, method, params, sessionId }) + '\0');
    });
  }

  async newPage(url: string, size = { width: 1280, height: 900 }): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    const page = new Page(this, sessionId);
    this.listeners.push((method, params, session) => {
      if (session !== sessionId) return;
      if (method === 'Runtime.exceptionThrown') {
        const d = (params as { exceptionDetails: { text: string; exception?: { description?: string } } })
          .exceptionDetails;
        page.errors.push(d.exception?.description ?? d.text);
      }
    });
    await page.send('Runtime.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { ...size, deviceScaleFactor: 1, mobile: false });
    await page.send('Page.navigate', { url });
    await page.waitFor('document.readyState === "complete"');
    return page;
  }

  /** Shut the browser down (its helper processes with it) and remove its profile. */
  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.send('Browser.close').catch(() => this.child.kill());
      await exited;
      clearTimeout(kill);
    }
    // a helper process may still be writing its last files into the profile
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

export class Page {
  /** uncaught exceptions in the page, in order */
  readonly errors: string[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}) {
    return this.browser.send(method, params, this.sessionId);
  }

  /** The value of a JavaScript expression in the page (promises awaited). */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails)
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Poll until the expression is truthy; fails with `what` after `timeoutMs`. */
  async waitFor(expression: string, timeoutMs = 15000, what = expression): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (await this.evaluate(expression).catch(() => false)) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A PNG of the viewport (or of the whole page with `full`). */
  async screenshot(file: string, full = false): Promise<void> {
    const params: Record<string, unknown> = { format: 'png' };
    if (full) params.captureBeyondViewport = true;
    const { data } = (await this.send('Page.captureScreenshot', params)) as { data: string };
    writeFileSync(file, Buffer.from(data, 'base64'));
  }
}
