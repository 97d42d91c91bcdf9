/**
 * One config module for `grpo train`, `sft`, `tfgrpo`, `gepa` (and `pipeline`): each command defines its schema
 * from the shared sections (sections.ts) and gets the same file reading, `--a.b value` flags (or an object of
 * overrides), plugins, deprecated-name handling and one-line errors from `defineConfig`.
 */
import type { z } from 'zod';
import { renameDeprecated, renameFlag, type DeprecatedKey } from './aliases.ts';
import { isSection, parseOverrides, readConfigFile, setPath } from './read.ts';
import { describeConfig, nullUnsets, parseConfig } from './validate.ts';
import { checkPluginsImported, importPlugins, resolvePlugin } from './plugins.ts';
import { getPath } from '../data/fields.ts';

export type { DeprecatedKey } from './aliases.ts';
export { parseOverrides, readConfigFile } from './read.ts';
export { describeConfig, parseConfig } from './validate.ts';
export { importPlugins, resolvePlugin } from './plugins.ts';
export * from './sections.ts';

/**
 * Keys to change in a config, as an object deep-merged over it: sections merge key by key, any other value
 * (lists included) replaces the one there, and null unsets an optional key (as `--key null` does).
 */
export type ConfigPatch<T> = { [K in keyof T]?: PatchValue<T[K]> };
type PatchValue<V> = null | (V extends readonly unknown[] ? V : V extends Record<string, unknown> ? ConfigPatch<V> : V);

/** `--a.b value` flags as the command line gives them (`--plugin PATH` among them), or an object of overrides. */
export type ConfigOverrides<T = Record<string, unknown>> = readonly string[] | ConfigPatch<T>;

export interface ConfigDefinition<S extends z.ZodType> {
  schema: S;
  /**
   * validate a config object (deprecated names moved, with a warning); `label` starts every error line. Plugins it
   * names must be imported already (relative paths against the working folder)
   */
  parse(raw: unknown, label?: string): z.infer<S>;
  /** a config object with overrides applied, validated; its plugins must be imported already */
  withOverrides(raw: unknown, overrides: ConfigOverrides<z.input<S>>, label?: string): z.infer<S>;
  /** as withOverrides, after importing the plugins the config and `--plugin` flags name */
  withOverridesAsync(raw: unknown, overrides: ConfigOverrides<z.input<S>>, label?: string): Promise<z.infer<S>>;
  /**
   * read a YAML file (null: every key at its default), apply overrides, validate; baseDir is the file's folder.
   * Plugins the file names must be imported already: loadAsync imports them
   */
  load(file: string | null, overrides?: ConfigOverrides<z.input<S>>): { config: z.infer<S>; baseDir: string };
  /** as load, after importing the plugins the file (`plugins:`) and `--plugin` flags name */
  loadAsync(
    file: string | null,
    overrides?: ConfigOverrides<z.input<S>>,
  ): Promise<{ config: z.infer<S>; baseDir: string }>;
  /** every key with its default and doc, one per line */
  reference(): string;
}

/** A config object with its overrides applied, before validation, and the plugin files it names. */
interface Prepared {
  target: Record<string, unknown>;
  plugins: { files: string[]; specs: string[] };
}

/** An override object as dotted keys and values; an empty section is kept as one (it adds the section). */
function patchPairs(patch: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(patch).flatMap(([k, v]): [string, unknown][] => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === undefined) return [];
    return isSection(v) && Object.keys(v).length ? patchPairs(v, key) : [[key, v]];
  });
}

/** Remove dotted `key` only (its sections stay, so validation names the key itself when it is required). */
function unsetPath(obj: Record<string, unknown>, key: string): void {
  const parts = key.split('.');
  const parent = parts.length > 1 ? getPath(obj, parts.slice(0, -1).join('.')) : obj;
  if (isSection(parent)) delete parent[parts[parts.length - 1]];
}

export function defineConfig<S extends z.ZodType>(opts: {
  /** the command, as error lines name a config given as an object */
  command: string;
  schema: S;
  /** old names, specific keys before the sections that hold them */
  deprecated?: readonly DeprecatedKey[];
  /** checks across keys, after validation; throw a GrpoError naming the keys */
  check?: (config: z.infer<S>, label: string) => void;
}): ConfigDefinition<S> {
  const deprecated = opts.deprecated ?? [];
  const fallback = `${opts.command} config`;

  const prepare = (raw: unknown, overrides: ConfigOverrides, label: string, baseDir: string): Prepared => {
    const warned = new Set<string>();
    const out = renameDeprecated(raw ?? {}, deprecated, label, warned);
    const target = (out === raw ? structuredClone(out) : out) as Record<string, unknown>;
    const flagPlugins: string[] = [];
    const pairs = Array.isArray(overrides)
      ? parseOverrides(overrides as readonly string[])
      : patchPairs(overrides as Record<string, unknown>);
    for (const [key, value] of pairs) {
      if (key === 'plugin' && Array.isArray(overrides)) {
        flagPlugins.push(String(value));
        continue;
      }
      for (const [k, v] of renameFlag(key, value, deprecated, label, warned)) {
        if (v === null && nullUnsets(opts.schema, k)) unsetPath(target, k);
        // an empty section adds the section, and leaves one that is there as it is
        else if (!(isSection(v) && !Object.keys(v).length && isSection(getPath(target, k)))) setPath(target, k, v);
      }
    }
    // the file's plugins resolve against its folder, --plugin flags against the working folder; the config keeps
    // them as absolute files, so a run resumed from elsewhere imports the same modules
    const named = Array.isArray(target.plugins) && target.plugins.every((p) => typeof p === 'string');
    const fromFile = named ? (target.plugins as string[]) : [];
    const files = [
      ...fromFile.map((s) => resolvePlugin(s, baseDir, label)),
      ...flagPlugins.map((s) => resolvePlugin(s, process.cwd(), '--plugin')),
    ];
    const specs = [...fromFile, ...flagPlugins];
    if (files.length) target.plugins = [...new Set(files)];
    return { target, plugins: { files, specs } };
  };

  const validate = (p: Prepared, label: string): z.infer<S> => {
    const config = parseConfig(opts.schema, p.target, label);
    opts.check?.(config, label);
    return config;
  };

  const sync = (raw: unknown, overrides: ConfigOverrides, label: string, baseDir: string) => {
    const p = prepare(raw, overrides, label, baseDir);
    checkPluginsImported(p.plugins.files, label, p.plugins.specs);
    return validate(p, label);
  };

  const async = async (raw: unknown, overrides: ConfigOverrides, label: string, baseDir: string) => {
    const p = prepare(raw, overrides, label, baseDir);
    await importPlugins(p.plugins.files, label, p.plugins.specs);
    return validate(p, label);
  };

  const read = (file: string | null) => (file === null ? { raw: {}, baseDir: process.cwd() } : readConfigFile(file));

  return {
    schema: opts.schema,
    parse: (raw, label = fallback) => sync(raw, [], label, process.cwd()),
    withOverrides: (raw, overrides, label = fallback) => sync(raw, overrides, label, process.cwd()),
    withOverridesAsync: (raw, overrides, label = fallback) => async(raw, overrides, label, process.cwd()),
    load(file, overrides = []) {
      const { raw, baseDir } = read(file);
      return { config: sync(raw, overrides, file ?? fallback, baseDir), baseDir };
    },
    async loadAsync(file, overrides = []) {
      const { raw, baseDir } = read(file);
      return { config: await async(raw, overrides, file ?? fallback, baseDir), baseDir };
    },
    reference: () => describeConfig(opts.schema).join('\n'),
  };
}
