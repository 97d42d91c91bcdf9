/**
 * Pages that work offline: the client code (TypeScript in client/, compiled to JavaScript in the package; uPlot from
 * npm) bundled by esbuild into one script and one stylesheet, inlined into a single HTML document with any data it
 * shows. The dashboard serves one; the arena report is one written to disk.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { moduleExtension } from '../util/module-extension.ts';

export type ClientEntry = 'dashboard' | 'report';

const bundles = new Map<ClientEntry, Promise<{ js: string; css: string }>>();

/** The bundle of client/<entry>.ts, built once per process (a few tens of milliseconds). */
export function clientBundle(entry: ClientEntry): Promise<{ js: string; css: string }> {
  let b = bundles.get(entry);
  if (!b) {
    b = build({
      entryPoints: [fileURLToPath(new URL(`./client/${entry}${moduleExtension}`, import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      minify: true,
      target: 'es2022',
      outdir: 'out',
      logLevel: 'silent',
    }).then((r) => ({
      js: r.outputFiles.find((f) => f.path.endsWith('.js'))!.text,
      css: r.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '',
    }));
    bundles.set(entry, b);
  }
  return b;
}

export async function htmlPage(entry: ClientEntry, title: string, data?: unknown): Promise<string> {
  const { js, css } = await clientBundle(entry);
  // '<' escaped so no string in the data or the code can close its <script> element
  const json =
    data === undefined
      ? ''
      : `<script type="application/json" id="grpo-data">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>\n`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</title>
<style>${css}</style>
${json}</head><body>
<script type="module">${js.replace(/<\/(script)/gi, '<\\/$1')}</script>
</body></html>
`;
}
