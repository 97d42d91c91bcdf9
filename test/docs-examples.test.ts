/**
 * The examples in README.md and docs/ run as written: every TypeScript (and JavaScript) block type-checks against the
 * sources ('grpo-ts' is src/index.ts), the blocks marked `ts run` also run, and every YAML block validates — a
 * `yaml` block as a whole `grpo train` config, `yaml fragment` as keys of one (merged into a minimal config),
 * `yaml sft|pipeline|tfgrpo|gepa` as that command's config, `yaml other` parsed only. The example configs in
 * configs/ validate with their command's schema, and configs/sft.yaml runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import YAML from 'yaml';
import type { ConfigDefinition } from '../src/config/index.ts';
import { trainConfig } from '../src/trainer/config/load.ts';
import { sftConfig } from '../src/sft/config.ts';
import { pipelineConfig, stageConfig, type PipelineConfig } from '../src/pipeline/config.ts';
import { tfgrpoConfig } from '../src/trainingfree/tfgrpo/config.ts';
import { gepaConfig } from '../src/trainingfree/gepa/config.ts';
import { sftCommand } from '../src/cli/sft.ts';

const root = path.join(import.meta.dirname, '..');
const commands: Record<string, ConfigDefinition<never>> = {
  train: trainConfig as never,
  sft: sftConfig as never,
  pipeline: pipelineConfig as never,
  tfgrpo: tfgrpoConfig as never,
  gepa: gepaConfig as never,
};

interface Block {
  /** file:line of the opening fence, as failures name it */
  where: string;
  lang: string;
  flags: string[];
  text: string;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? markdownFiles(p) : name.endsWith('.md') ? [p] : [];
    });
}

function blocks(): Block[] {
  const out: Block[] = [];
  for (const file of [path.join(root, 'README.md'), ...markdownFiles(path.join(root, 'docs'))]) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S*)\s*(.*)$/.exec(lines[i]);
      if (!open) continue;
      const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
      assert.ok(end > i, `${path.relative(root, file)}:${i + 1}: a code block that is never closed`);
      out.push({
        where: `${path.relative(root, file)}:${i + 1}`,
        lang: open[1],
        flags: open[2].split(/\s+/).filter(Boolean),
        text: lines.slice(i + 1, end).join('\n') + '\n',
      });
      i = end;
    }
  }
  return out;
}

const all = blocks();
const code = all.filter((b) => ['ts', 'typescript', 'js', 'mjs'].includes(b.lang));
const yaml = all.filter((b) => ['yaml', 'yml'].includes(b.lang));
// inside the repository, so 'grpo-ts', zod and the rest resolve as they do for examples/ (tsconfig paths)
const scratch = mkdtempSync(path.join(root, '.docs-examples-'));
const out = mkdtempSync(path.join(tmpdir(), 'grpo-docs-'));
test.after(() => {
  for (const d of [scratch, out]) rmSync(d, { recursive: true, force: true });
});
const fileOf = (b: Block) => path.join(scratch, `${b.where.replace(/[^\w]+/g, '_')}.ts`);

test('the docs hold the examples this test reads, each with a known marker', () => {
  assert.ok(code.length >= 4 && yaml.length >= 3, `${code.length} code and ${yaml.length} YAML blocks`);
  for (const b of code)
    assert.ok(
      b.flags.every((f) => f === 'run'),
      `${b.where}: unknown marker ${b.flags}`,
    );
  for (const b of yaml)
    assert.ok(
      b.flags.length <= 1 && b.flags.every((f) => f === 'fragment' || f === 'other' || f in commands),
      `${b.where}: unknown marker ${b.flags}`,
    );
});

test('every TypeScript and JavaScript example type-checks against the sources', () => {
  for (const b of code) writeFileSync(fileOf(b), b.text);
  const configFile = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  // an example may leave a value unused
  const program = ts.createProgram(code.map(fileOf), { ...parsed.options, noUnusedLocals: false, noEmit: true });
  const problems: string[] = [];
  for (const b of code) {
    const source = program.getSourceFile(fileOf(b))!;
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      const [file, at] = b.where.split(':');
      problems.push(`${file}:${Number(at) + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("the examples marked 'ts run' run", async () => {
  for (const b of code.filter((x) => x.flags.includes('run'))) {
    try {
      await import(pathToFileURL(fileOf(b)).href);
    } catch (e) {
      assert.fail(`${b.where}: ${(e as Error).message}`);
    }
  }
});

test('every YAML example validates: a train config, keys of one, or the config of the command it names', async () => {
  const minimal = { model: { path: 'embedded' }, data: { train: 'embedded:addition' } };
  for (const b of yaml) {
    let raw: unknown;
    try {
      raw = YAML.parse(b.text);
    } catch (e) {
      assert.fail(`${b.where}: not YAML: ${(e as Error).message}`);
    }
    const kind = b.flags[0] ?? 'train';
    if (kind === 'other') continue;
    // plugins a fragment names are relative to the repository's root, where the README's config would be
    const keys = raw as { plugins?: string[] };
    if (keys.plugins) keys.plugins = keys.plugins.map((p) => (p.startsWith('.') ? path.resolve(root, p) : p));
    if (kind === 'fragment') await trainConfig.withOverridesAsync(minimal, raw as never, b.where);
    else await commands[kind].withOverridesAsync(raw, [], b.where);
  }
});

test('every example config in configs/ validates with its command; a pipeline stage with its own', async () => {
  const commandOf: Record<string, string> = {
    'demo.yaml': 'train',
    'demo-tools.yaml': 'train',
    'gsm8k-qwen-lora.yaml': 'train',
    'sft.yaml': 'sft',
    'r1-pipeline.yaml': 'pipeline',
    'tfgrpo.yaml': 'tfgrpo',
    'gepa.yaml': 'gepa',
  };
  const files = readdirSync(path.join(root, 'configs')).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(
    files.filter((f) => !commandOf[f]),
    [],
    'a config this test does not know the command of',
  );
  for (const f of files) {
    const { config } = await commands[commandOf[f]].loadAsync(path.join(root, 'configs', f));
    if (commandOf[f] === 'pipeline')
      for (const stage of (config as PipelineConfig).stages) stageConfig(stage, out, 'embedded');
  }
});

test('configs/sft.yaml trains', async () => {
  const r = await sftCommand(
    path.join(root, 'configs', 'sft.yaml'),
    [
      ...['--training.max_steps', '2', '--optimizer.warmup_steps', '0', '--training.eval_final', 'false'],
      ...['--out_dir', out, '--progress', 'false'],
    ],
    () => {},
  );
  assert.equal(r.train.steps, 2);
});
