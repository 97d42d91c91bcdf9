/**
 * The README's pictures: docs/dashboard.png (the dashboard on a run) and docs/arena.png (an arena report), taken
 * in headless Chromium. Usage: tsx scripts/screenshots.ts RUNS_DIR RUN_ID[,RUN_ID…] ARENA_HTML
 * (as made: `grpo arena --config configs/demo.yaml --methods grpo,dr_grpo,dapo,rloo
 * --training.steps 30 --training.eval_every 5 --data.eval_size 100`, then this with
 * runs/arena-demo grpo-s0,dr_grpo-s0 runs/arena-demo/arena.html).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startDashboard } from '../src/dashboard/server.ts';
import { Browser, findChromium, NO_CHROMIUM } from '../test/browser/chromium.ts';

const [runsDir, runIds, arenaHtml] = process.argv.slice(2);
if (!runsDir || !runIds || !arenaHtml)
  throw new Error('usage: tsx scripts/screenshots.ts RUNS_DIR RUN_ID[,RUN_ID…] ARENA_HTML');
const chromium = findChromium();
if (!chromium) throw new Error(NO_CHROMIUM);
const docs = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'docs');
const size = { width: 1280, height: 760 };
const dash = await startDashboard({ runsDir, port: 0 });
const browser = await Browser.launch(chromium);
try {
  const page = await browser.newPage(
    `${dash.url}?${runIds
      .split(',')
      .map((id) => `run=${encodeURIComponent(id)}`)
      .join('&')}`,
    size,
  );
  await page.waitFor('document.querySelectorAll(".chart canvas").length > 4');
  await page.screenshot(path.join(docs, 'dashboard.png'));
  const report = await browser.newPage(pathToFileURL(path.resolve(arenaHtml)).href, size);
  await report.waitFor('document.querySelectorAll(".chart canvas").length > 2');
  await report.screenshot(path.join(docs, 'arena.png'));
} finally {
  await browser.close();
  await dash.close();
}
