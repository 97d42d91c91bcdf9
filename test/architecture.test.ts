/**
 * The layer order of docs/architecture.md, checked against the code: a file imports only from its own layer and
 * the layers below it, and no chain of imports (type-only ones included) leads back to where it started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? sources(p) : /\.tsx?$/.test(name) ? [p] : [];
    });
}

/** Each file's relative imports, resolved to files of src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g),
    ...text.matchAll(/import\('(\.[^']+)'\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

/** The layers of the table, top first: each row's `src/...` paths. */
function layers(): string[][] {
  const doc = readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| `src/'));
  return rows.map((l) => [...l.split('|')[1].matchAll(/`(src\/[^`]*)`/g)].map((m) => m[1].replace(/\/$/, '')));
}

const files = sources(src);
const layerOf = (() => {
  const table = layers();
  return (file: string): number => {
    const rel = path.relative(root, file);
    const i = table.findIndex((row) => row.some((p) => rel === p || rel.startsWith(p + '/')));
    assert.ok(i >= 0, `${rel} is in no layer of docs/architecture.md`);
    return i;
  };
})();

test('every file of src/ is in a layer of docs/architecture.md, and imports only from its layer or those below', () => {
  const wrong: string[] = [];
  for (const file of files) {
    for (const target of importsOf(file)) {
      if (layerOf(target) < layerOf(file))
        wrong.push(`${path.relative(root, file)} imports ${path.relative(root, target)}, a layer above it`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycle', () => {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(src))]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(src, x)).join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const t of graph.get(f) ?? []) visit(t, [...stack, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});
