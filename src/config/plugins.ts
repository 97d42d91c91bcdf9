/**
 * Plugins: modules a config names (`plugins: [./my-methods.ts, some-package]`, or `--plugin PATH`) that register
 * rewards, methods, presets, batch transforms or tools when imported. They are imported before the config is
 * validated, so what they register is known by name. A path resolves against the config file's folder (a flag's
 * against the working folder), a package name from that folder's node_modules; TypeScript plugins load through tsx
 * (a dependency). A plugin that is missing or throws is one line naming it and the cause.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GrpoError } from '../errors.ts';

const TYPESCRIPT = /\.[cm]?tsx?$/;
const MODULE_FILE = /\.([cm]?[jt]sx?)$/;

/** Imports started, by absolute file; a plugin is imported once per process whichever config names it. */
const imports = new Map<string, Promise<void>>();
/** Files whose import finished: what a synchronous load accepts. */
const imported = new Set<string>();

function pluginError(label: string, spec: string, cause: string): GrpoError {
  return new GrpoError('config', `${label}: plugin '${spec}' ${cause}`);
}

/** The first lines of an error, on one line (esbuild puts the useful part on the second). */
function causeOf(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.slice(0, 2).join(' ') || (e instanceof Error ? e.name : 'unknown error');
}

function isFile(file: string): boolean {
  return existsSync(file) && statSync(file).isFile();
}

/**
 * A plugin's absolute file: a path (relative ones against `baseDir`; a bare `my-methods.ts` that exists there is a
 * file too) or a package name (`pkg`, `@scope/pkg`, `pkg/sub`) installed where `baseDir` can import it.
 */
export function resolvePlugin(spec: string, baseDir: string, label: string): string {
  if (typeof spec !== 'string' || spec.trim() === '')
    throw pluginError(label, String(spec), 'is not a module path or package name');
  const pathLike = /^(\.{1,2}([/\\]|$)|[/\\]|file:|[A-Za-z]:[/\\])/.test(spec);
  const file = spec.startsWith('file:') ? fileURLToPath(spec) : path.resolve(baseDir, spec);
  if (pathLike || (MODULE_FILE.test(spec) && isFile(file))) {
    if (!isFile(file)) throw pluginError(label, spec, `does not exist (no file ${file})`);
    return file;
  }
  return resolvePackage(spec, baseDir, label);
}

/** A package's module for `import` (its exports' import / node / default conditions, else its main). */
function resolvePackage(spec: string, baseDir: string, label: string): string {
  const parts = spec.split('/');
  const name = parts.slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const subpath = parts.slice(spec.startsWith('@') ? 2 : 1).join('/');
  const require = createRequire(path.join(baseDir, 'noop.js'));
  const dir = (require.resolve.paths(name) ?? [])
    .map((d) => path.join(d, name))
    .find((d) => isFile(path.join(d, 'package.json')));
  if (!dir)
    throw pluginError(
      label,
      spec,
      `is neither a file nor a package installed where ${baseDir} can import it (npm install ${name}, or write a path: ./${spec})`,
    );
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: unknown };
  const entry = pkg.exports === undefined ? undefined : exportTarget(pkg.exports, subpath ? `./${subpath}` : '.');
  if (entry) return path.join(dir, entry);
  try {
    // no exports field, or one this reading does not cover (patterns): Node's CommonJS resolution
    return require.resolve(spec);
  } catch (e) {
    throw pluginError(label, spec, `cannot be resolved: ${causeOf(e)}`);
  }
}

/** The file an exports field maps `key` to, with the conditions an ESM import in Node matches. */
function exportTarget(exports: unknown, key: string): string | undefined {
  const isMap =
    typeof exports === 'object' &&
    exports !== null &&
    !Array.isArray(exports) &&
    Object.keys(exports)[0]?.startsWith('.');
  const target = isMap ? (exports as Record<string, unknown>)[key] : key === '.' ? exports : undefined;
  const pick = (t: unknown): string | undefined => {
    if (typeof t === 'string') return t;
    if (Array.isArray(t)) return t.map(pick).find((x) => x !== undefined);
    if (typeof t === 'object' && t !== null)
      for (const [condition, v] of Object.entries(t))
        if (['import', 'node', 'default'].includes(condition)) {
          const found = pick(v);
          if (found !== undefined) return found;
        }
    return undefined;
  };
  return pick(target);
}

/**
 * A TypeScript plugin must be an ES module (.mts, or .ts under a package.json with "type": "module"): as CommonJS it
 * would require() a second copy of grpo-ts, and register into that one.
 */
function checkEsModule(file: string, spec: string, label: string): void {
  if (/\.mtsx?$/.test(file)) return;
  let type: unknown;
  let scope = '';
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (isFile(path.join(dir, 'package.json'))) {
      scope = path.join(dir, 'package.json');
      try {
        type = (JSON.parse(readFileSync(scope, 'utf8')) as { type?: unknown }).type;
      } catch {}
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  if (type !== 'module' || file.endsWith('.cts'))
    throw pluginError(
      label,
      spec,
      `would load as CommonJS (${scope ? `${scope} has no "type": "module"` : 'no package.json above it says "type": "module"'}); name it .mts, or set "type": "module"`,
    );
}

let typeScriptHooks: Promise<void> | undefined;

/** tsx's ESM and CommonJS hooks, registered once; the sources (a checkout, the tests) already run under a TS loader. */
function typeScriptLoader(): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return Promise.resolve();
  typeScriptHooks ??= Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).then(([esm, cjs]) => {
    esm.register();
    cjs.register();
  });
  return typeScriptHooks;
}

/** Imports each plugin file (resolvePlugin's), in order, once per process; `specs` name them in errors. */
export async function importPlugins(files: readonly string[], label: string, specs: readonly string[] = files) {
  for (const [i, file] of files.entries()) {
    if (TYPESCRIPT.test(file)) checkEsModule(file, specs[i] ?? file, label);
    let pending = imports.get(file);
    if (!pending) {
      pending = (async () => {
        if (TYPESCRIPT.test(file)) await typeScriptLoader();
        await import(pathToFileURL(file).href);
        imported.add(file);
      })();
      imports.set(file, pending);
    }
    try {
      await pending;
    } catch (e) {
      imports.delete(file);
      throw pluginError(label, specs[i] ?? file, `failed to load: ${causeOf(e)}`);
    }
  }
}

/** For a synchronous load: every plugin file must have been imported already. */
export function checkPluginsImported(files: readonly string[], label: string, specs: readonly string[] = files) {
  const missing = files.map((f, i) => (imported.has(f) ? null : (specs[i] ?? f))).filter((s) => s !== null);
  if (missing.length)
    throw new GrpoError(
      'config',
      `${label}: plugin${missing.length > 1 ? 's' : ''} ${missing.map((s) => `'${s}'`).join(', ')} not imported yet; read the config with its loadAsync (as grpo does), or import the module before loading`,
    );
}
