/**
 * Plugins: modules a config names (`plugins:`) or `--plugin` adds, imported before the config is validated, so what
 * they register can be named in it; a missing or failing one is one line naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { runTrainCli } from '../../src/cli/train.ts';
import { trainConfig } from '../../src/trainer/config/load.ts';
import { sftConfig } from '../../src/sft/config.ts';
import { tfgrpoConfig } from '../../src/trainingfree/tfgrpo/config.ts';
import { gepaConfig } from '../../src/trainingfree/gepa/config.ts';
import { pipelineConfig, stageConfig } from '../../src/pipeline/config.ts';
import { GrpoError } from '../../src/errors.ts';

const root = path.join(import.meta.dirname, '../..');
const countA = path.join(import.meta.dirname, 'plugins', 'count-a.ts');
const throws = path.join(import.meta.dirname, 'plugins', 'throws.ts');
const out = mkdtempSync(path.join(tmpdir(), 'grpo-plugins-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

const write = (file: string, value: unknown) => {
  writeFileSync(file, YAML.stringify(value));
  return file;
};
/** The config error `p` rejects with, checked to be one line. */
async function errorLine(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GrpoError && e.code === 'config', String(e));
    assert.ok(!e.message.includes('\n'), e.message);
    return e.message;
  }
  assert.fail('no error');
}
const base = { model: { path: 'm' }, data: { train: 'd.jsonl' } };

test('a YAML naming a .ts plugin trains with the reward it registers (grpo train); accuracy is n/a, not 0', async () => {
  const config = write(path.join(out, 'run.yaml'), {
    name: 'plugin-run',
    out_dir: out,
    // relative to the config's folder
    plugins: [path.relative(out, countA)],
    model: { path: 'embedded', threads: 1 },
    data: { train: 'embedded:addition', eval_size: 3 },
    rollout: { prompts_per_step: 2, group_size: 2, max_tokens: 6 },
    rewards: [{ type: 'count_a', options: { letter: '1' } }],
    training: { steps: 2, log_completions_every: 0 },
  });
  const lines: string[] = [];
  await runTrainCli({ config, overrides: [] }, (l) => lines.push(l));
  const run = path.join(out, 'plugin-run');
  const metrics = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(metrics.length, 2);
  for (const m of metrics) {
    assert.equal(typeof m['rewards/count_a/mean'], 'number');
    assert.equal(m.accuracy, null);
  }
  // only a custom reward: nothing decides correctness, so no accuracy anywhere (not a 0 that reads "all wrong")
  assert.ok(lines.includes('accuracy_before=n/a accuracy_after=n/a'), lines.join('\n'));
  const final = readFileSync(path.join(run, 'completions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((r) => r.eval);
  assert.equal(final.eval.accuracy, null);
  assert.equal(final.eval.pass_at_k, null);
  assert.ok(final.eval_samples.every((s: { correct: unknown }) => s.correct === null));
  // the run's config keeps the plugin as an absolute file, so a resumed run (from any folder) imports it
  assert.deepEqual(YAML.parse(readFileSync(path.join(run, 'config.yaml'), 'utf8')).plugins, [countA]);
});

test('a missing plugin and a plugin that throws are one line naming the plugin and the cause', async () => {
  const missing = write(path.join(out, 'missing.yaml'), { ...base, plugins: ['./nowhere/rewards.ts'] });
  assert.equal(
    await errorLine(trainConfig.loadAsync(missing)),
    `${missing}: plugin './nowhere/rewards.ts' does not exist (no file ${path.join(out, 'nowhere/rewards.ts')})`,
  );
  const noPackage = write(path.join(out, 'no-package.yaml'), { ...base, plugins: ['grpo-no-such-plugin'] });
  assert.match(
    await errorLine(trainConfig.loadAsync(noPackage)),
    /no-package\.yaml: plugin 'grpo-no-such-plugin' is neither a file nor a package installed where .* can import it \(npm install grpo-no-such-plugin/,
  );
  const throwing = write(path.join(out, 'throws.yaml'), { ...base, plugins: [throws] });
  assert.equal(
    await errorLine(trainConfig.loadAsync(throwing)),
    `${throwing}: plugin '${throws}' failed to load: no licence key in $MY_REWARD_KEY`,
  );
  // from the command line: `grpo: ` and the same line, exit status 1
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'train', '--config', missing, '--plugin', 'test/config/plugins/throws.ts'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr.trim(),
    `grpo: ${missing}: plugin './nowhere/rewards.ts' does not exist (no file ${path.join(out, 'nowhere/rewards.ts')})`,
  );
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'sft', '--plugin', 'test/config/plugins/throws.ts'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(run.status, 1, run.stderr);
  assert.equal(
    run.stderr.trim(),
    "grpo: sft config: plugin 'test/config/plugins/throws.ts' failed to load: no licence key in $MY_REWARD_KEY",
  );
});

test("a package name resolves from the config file's folder, with the conditions an ESM import uses", async () => {
  const project = path.join(out, 'project');
  const pkg = path.join(project, 'node_modules', '@acme', 'grpo-rewards');
  mkdirSync(path.join(pkg, 'lib'), { recursive: true });
  writeFileSync(
    path.join(pkg, 'package.json'),
    JSON.stringify({
      name: '@acme/grpo-rewards',
      type: 'module',
      exports: { '.': { import: './lib/index.js', require: './lib/index.cjs' } },
    }),
  );
  writeFileSync(
    path.join(pkg, 'lib', 'index.js'),
    'globalThis.acmePluginLoaded = (globalThis.acmePluginLoaded ?? 0) + 1;\n',
  );
  mkdirSync(path.join(project, 'configs'));
  const file = write(path.join(project, 'configs', 'run.yaml'), { ...base, plugins: ['@acme/grpo-rewards'] });
  const { config } = await trainConfig.loadAsync(file);
  assert.deepEqual(config.plugins, [path.join(pkg, 'lib', 'index.js')]);
  // imported once per process, whichever config names it
  await trainConfig.loadAsync(file);
  assert.equal((globalThis as { acmePluginLoaded?: number }).acmePluginLoaded, 1);
});

test('every command that reads a config imports its plugins; a synchronous load asks for them imported first', async () => {
  const plugin = path.relative(out, countA);
  const cold = write(path.join(out, 'sync.yaml'), {
    ...base,
    plugins: [path.relative(out, throws)],
  });
  assert.match(
    (() => {
      try {
        trainConfig.load(cold);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    /sync\.yaml: plugin '.*throws\.ts' not imported yet; read the config with its loadAsync/,
  );
  const sft = write(path.join(out, 'sft.yaml'), {
    plugins: [plugin],
    stage: 'rejection_sampling',
    rejection: { rewards: [{ type: 'count_a' }] },
  });
  assert.equal((await sftConfig.loadAsync(sft)).config.rejection.rewards[0].type, 'count_a');
  assert.deepEqual(sftConfig.load(sft).config.plugins, [countA]);
  const tf = write(path.join(out, 'tf.yaml'), { plugins: [plugin], task: { train: 't.jsonl' } });
  assert.deepEqual((await tfgrpoConfig.loadAsync(tf)).config.plugins, [countA]);
  assert.deepEqual((await gepaConfig.loadAsync(tf)).config.plugins, [countA]);
  const pipeline = write(path.join(out, 'pipeline.yaml'), {
    plugins: [plugin],
    model: 'embedded',
    stages: [
      { name: 'rl', kind: 'train', config: { data: { train: 'embedded:addition' }, rewards: [{ type: 'count_a' }] } },
    ],
  });
  const p = (await pipelineConfig.loadAsync(pipeline)).config;
  const stage = stageConfig(p.stages[0], out, 'embedded');
  assert.equal(stage.kind === 'train' && stage.config.rewards[0].type, 'count_a');
  assert.throws(
    () => stageConfig({ ...p.stages[0], config: { ...p.stages[0].config, plugins: [plugin] } }, out, 'embedded'),
    /stage 'rl': plugins are named at the pipeline's top level/,
  );
  // --plugin on the command line resolves against the working folder and joins the file's list
  const flagged = await trainConfig.loadAsync(write(path.join(out, 'flag.yaml'), base), [
    '--plugin',
    path.relative(process.cwd(), countA),
  ]);
  assert.deepEqual(flagged.config.plugins, [countA]);
});
