/**
 * `grpo arena` end to end on the tiny model: each method and seed trains from the same config, the report's
 * files are written, and the HTML report renders its table and curves in headless Chromium (where there is one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { runArena } from '../../src/arena/arena.ts';
import { writeArenaReport } from '../../src/arena/report.ts';
import { GrpoError } from '../../src/errors.ts';
import { tinyModelFolder, toyTasks, shareOfA, toyConfig } from '../trainer/fixtures.ts';
import { Browser, findChromium, NO_CHROMIUM } from '../browser/chromium.ts';

const modelDir = tinyModelFolder();
const out = mkdtempSync(path.join(tmpdir(), 'grpo-arena-'));
const configFile = path.join(out, 'toy.yaml');
writeFileSync(
  configFile,
  stringify(
    toyConfig(modelDir, out, { name: 'toy', training: { steps: 2, micro_batch_groups: 2, log_completions_every: 0 } }),
  ),
);
test.after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(path.dirname(modelDir), { recursive: true, force: true });
});
const trainOptions = { rewards: [shareOfA], correctness: 'share_a', tasks: toyTasks, quiet: true };
const chromium = findChromium();
let reportFile = '';

test('bad --methods and --seeds are refused in one line naming the choices', async () => {
  const refused = (methods: string[], seeds: number, pattern: RegExp) =>
    assert.rejects(
      runArena({ config: configFile, methods, seeds, trainOptions }),
      (e: unknown) => e instanceof GrpoError && pattern.test(e.message),
    );
  await refused(['grpo', 'grpp'], 1, /unknown method 'grpp'.*grpo, dr_grpo/);
  await refused(['grpo', 'grpo'], 1, /names a method twice/);
  await refused([], 1, /at least one/);
  await refused(['grpo'], 0, /--seeds takes a whole number/);
});

test('an --arena-name that is not one folder name is refused before anything is written outside out_dir', async () => {
  for (const name of ['../../x', '..', '.', 'a/b', 'a\\b', '/tmp/x', ''])
    await assert.rejects(
      runArena({ config: configFile, methods: ['grpo'], name, trainOptions }),
      (e: unknown) =>
        e instanceof GrpoError &&
        e.message.startsWith(`--arena-name '${name}' is not a folder name`) &&
        /no path separators/.test(e.message),
      name,
    );
  assert.ok(!existsSync(path.resolve(out, '../../x')), 'nothing was written outside out_dir');
});

test('every method × seed trains from the same config; the report compares them', async () => {
  const seen: string[] = [];
  const arena = await runArena({
    config: configFile,
    methods: ['grpo', 'rloo'],
    seeds: 2,
    trainOptions,
    onRun: (i, n, m, s) => seen.push(`${i + 1}/${n} ${m} ${s}`),
  });
  assert.deepEqual(seen, ['1/4 grpo 1', '2/4 grpo 2', '3/4 rloo 1', '4/4 rloo 2']);
  assert.equal(arena.dir, path.join(out, 'arena-toy'));
  for (const r of arena.runs) {
    const config = readFileSync(path.join(arena.dir, r.id, 'config.yaml'), 'utf8');
    assert.match(config, new RegExp(`preset: ${r.method}\\n`));
    assert.match(config, new RegExp(`^seed: ${r.seed}$`, 'm'));
    assert.match(config, /eval_every: 1\n/, 'a config without evaluations gets about ten');
    assert.deepEqual(
      r.metrics.map((m) => m.step),
      [1, 2],
    );
    assert.equal(typeof r.metrics[0].eval_accuracy, 'number');
  }
  // two seeds of one method sample different completions; one seed of two methods starts from the same batch
  const firstReward = (id: string) => arena.runs.find((r) => r.id === id)!.metrics[0].reward;
  assert.equal(firstReward('grpo-s1'), firstReward('rloo-s1'), 'same start, same first rollouts');

  const { report, files } = await writeArenaReport(arena, 0.5);
  assert.deepEqual(
    files.map((f) => path.basename(f)),
    ['arena.md', 'arena.html', 'arena.json'],
  );
  for (const f of files) assert.ok(existsSync(f), f);
  const md = readFileSync(files[0], 'utf8');
  assert.match(
    md,
    /\| method \| final held-out acc \| best held-out acc \| steps to 50% \| time to 50% \(s\) \| completion length \| KL \| wall time \(s\) \|/,
  );
  assert.equal(md.split('\n').filter((l) => /^\| (grpo|rloo) \|/.test(l)).length, 2);
  assert.equal(report.table.length, 2);
  assert.equal(JSON.parse(readFileSync(files[2], 'utf8')).runs.length, 4);

  reportFile = files[1];
});

test("the HTML report shows the table and the methods' curves overlaid", {
  skip: chromium ? false : NO_CHROMIUM,
}, async () => {
  assert.ok(reportFile, 'the arena above wrote its report');
  const browser = await Browser.launch(chromium!);
  try {
    const page = await browser.newPage(pathToFileURL(reportFile).href);
    await page.waitFor('document.querySelector(".chart canvas")', 10000, "the report's charts");
    assert.equal(await page.evaluate('document.querySelectorAll("table.summary tbody tr").length'), 2);
    assert.equal(
      await page.evaluate('document.querySelector(".chart").dataset.metric'),
      'heldout_accuracy',
      'held-out accuracy leads',
    );
    assert.equal(await page.evaluate('document.querySelector(".chart").dataset.points'), '3', 'steps 0, 1 and 2');
    assert.equal(await page.evaluate('document.querySelector(".chart").dataset.runs'), '2', 'both methods overlaid');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
