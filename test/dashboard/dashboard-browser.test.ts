/**
 * The dashboard in a real browser (headless Chromium) on real training runs: charts render with one point per
 * logged step, a metrics line appended to a run appears without a reload, runs overlay, and the completions
 * browser filters by correctness. Skips, saying so, where no Chromium is installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { train } from '../../src/trainer/trainer.ts';
import { startDashboard } from '../../src/dashboard/server.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from '../trainer/fixtures.ts';
import { Browser, findChromium, NO_CHROMIUM } from '../browser/chromium.ts';

const chromium = findChromium();

test('the dashboard draws a run live in headless Chromium', { skip: chromium ? false : NO_CHROMIUM }, async () => {
  const modelDir = tinyModelFolder();
  const out = mkdtempSync(path.join(tmpdir(), 'grpo-dash-browser-'));
  const run = (name: string, seed: number, steps: number) =>
    train(
      toyConfig(modelDir, out, { name, seed, training: { steps, micro_batch_groups: 2, log_completions_every: 1 } }),
      { rewards: [shareOfA], tasks: toyTasks, quiet: true },
    );
  await run('r1', 1, 3);
  await run('r2', 2, 2);
  const dash = await startDashboard({ runsDir: out, port: 0 });
  const browser = await Browser.launch(chromium!);
  try {
    const page = await browser.newPage(`${dash.url}?run=r1`);
    const chart = (metric: string, attr: string) =>
      `document.querySelector('.chart[data-metric="${metric}"]')?.dataset.${attr}`;
    await page.waitFor(`${chart('reward', 'points')} === "3"`, 15000, 'the reward chart with 3 points');

    const metricsFile = path.join(out, 'r1', 'metrics.jsonl');
    const rows = readFileSync(metricsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const plotted = new Set(
      rows.flatMap((r) =>
        Object.entries(r)
          .filter(([k, v]) => typeof v === 'number' && Number.isFinite(v) && k !== 'step' && k !== 'wall_time')
          .map(([k]) => k),
      ),
    );
    assert.equal(
      await page.evaluate('document.querySelectorAll(".chart").length'),
      plotted.size,
      'one chart per logged metric',
    );
    for (const m of ['reward', 'kl', 'entropy', 'completion_length', 'learning_rate', 'time/generate_ms'])
      assert.ok(plotted.has(m), m);
    // the canvas holds drawn pixels, not just an empty frame
    const inked =
      await page.evaluate<number>(`(() => { const c = document.querySelector('.chart[data-metric="reward"] canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()`);
    assert.ok(inked > 200, `reward chart drew ${inked} pixels`);

    // a new line in metrics.jsonl shows up without a reload
    await page.evaluate('window.sameDocument = true');
    appendFileSync(metricsFile, JSON.stringify({ ...rows[rows.length - 1], step: 4, reward: 0.123 }) + '\n');
    await page.waitFor(`${chart('reward', 'points')} === "4"`, 10000, 'the appended step on the reward chart');
    assert.equal(await page.evaluate('window.sameDocument'), true, 'the page was not reloaded');
    assert.equal(await page.evaluate(chart('kl', 'points')), '4');

    // a second run overlaid on the same charts
    await page.evaluate(
      `[...document.querySelectorAll('.run')].find((l) => l.textContent.includes('r2')).querySelector('input').click()`,
    );
    await page.waitFor(`${chart('reward', 'runs')} === "2"`, 10000, 'r2 overlaid on the reward chart');
    assert.equal(await page.evaluate(chart('reward', 'points')), '4', 'steps 1–4 of r1 and 1–2 of r2 share one x axis');

    // a resumed run rewrites its file back to the checkpoint's steps: the page drops the lines that are gone
    writeFileSync(
      metricsFile,
      rows
        .slice(0, 2)
        .map((r) => JSON.stringify(r) + '\n')
        .join(''),
    );
    await page.waitFor(`${chart('reward', 'points')} === "2"`, 10000, 'r1 trimmed back to 2 steps');
    appendFileSync(metricsFile, JSON.stringify({ ...rows[2], reward: 0.5 }) + '\n');
    await page.waitFor(`${chart('reward', 'points')} === "3"`, 10000, 'r1 going on from its step 2');
    // lines that are not records (null, a list) are left out, said so above the charts, and the charts stay
    appendFileSync(metricsFile, 'null\n[1, 2]\n' + JSON.stringify({ ...rows[2], step: 3.5, reward: 0.25 }) + '\n');
    await page.waitFor(`${chart('reward', 'points')} === "4"`, 10000, 'the step after two bad lines');
    assert.match(
      await page.evaluate<string>(`document.querySelector('#metrics-note').textContent`),
      /r1: 2 lines of metrics\.jsonl are not a JSON record and are left out/,
    );
    assert.equal(await page.evaluate(chart('kl', 'points')), '4', 'every chart of the run is still drawn');

    // completions: every logged completion, then only the correct ones (one group marked by hand)
    const completionsFile = path.join(out, 'r1', 'completions.jsonl');
    appendFileSync(
      completionsFile,
      JSON.stringify({
        step: 4,
        prompt: 'ab',
        answer: 'aa',
        completions: [
          { text: 'aa', reward: 1, rewards: { share_a: 1 }, correct: true },
          { text: 'ab', reward: 0.5, rewards: { share_a: 0.5 }, correct: false },
          { text: 'aaa', reward: 1, rewards: { share_a: 1 }, correct: true },
        ],
      }) + '\n',
    );
    const logged = readFileSync(completionsFile, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { completions?: { correct: boolean | null }[]; eval_samples?: { correct: boolean }[] },
      );
    const all = logged.flatMap((r) => r.completions ?? r.eval_samples ?? []);
    await page.evaluate(`document.querySelector('nav button[data-tab="completions"]').click()`);
    await page.waitFor(
      `document.querySelector('.completions')?.dataset.count === "${all.length}"`,
      10000,
      `${all.length} completions listed`,
    );
    assert.match(await page.evaluate<string>(`document.querySelector('.completions').textContent`), /aaa/);
    appendFileSync(
      completionsFile,
      JSON.stringify({
        step: 5,
        prompt: 'ca',
        completions: [{ text: 'ba', reward: 0.5, rewards: { share_a: 0.5 }, correct: false }],
      }) + '\n',
    );
    await page.waitFor(
      `document.querySelector('.completions')?.dataset.count === "${all.length + 1}"`,
      10000,
      'a group logged while the tab is open',
    );
    // malformed records (no completions list, a null line, cut short) leave the tab working, and are counted
    appendFileSync(
      completionsFile,
      `${JSON.stringify({ step: 6, prompt: 'x', completions: 'oops' })}\nnull\n{"step": 7, "prompt"\n`,
    );
    await page.waitFor(
      `/3 lines of completions\\.jsonl are not a completions record/.test(document.querySelector('#completions .note')?.textContent ?? '')`,
      10000,
      'the note on three malformed lines',
    );
    assert.equal(await page.evaluate(`document.querySelector('.completions').dataset.count`), String(all.length + 1));
    await page.evaluate(
      `(() => { const s = document.querySelectorAll('.filters select')[1]; s.value = 'correct'; s.dispatchEvent(new Event('change')); })()`,
    );
    const correct = all.filter((c) => c.correct === true).length;
    assert.equal(await page.evaluate(`document.querySelector('.completions').dataset.count`), String(correct));
    await page.evaluate(
      `(() => { const s = document.querySelectorAll('.filters select')[0]; s.value = 'step-4'; s.dispatchEvent(new Event('change')); })()`,
    );
    assert.equal(
      await page.evaluate(`document.querySelector('.completions').dataset.count`),
      '2',
      'step 4, correct only',
    );

    await page.evaluate(`document.querySelector('nav button[data-tab="config"]').click()`);
    await page.waitFor(
      `document.querySelector('#config-text').textContent.includes('name: r1')`,
      5000,
      'the config of r1',
    );
    assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  } finally {
    await dash.close();
    rmSync(out, { recursive: true, force: true });
    rmSync(path.dirname(modelDir), { recursive: true, force: true });
    await browser.close();
  }
});
