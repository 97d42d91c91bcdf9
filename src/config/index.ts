/**
 * One config module for `grpo train`, `sft`, `tfgrpo`, `gepa` (and `pipeline`): each command defines its schema
 * from the shared sections (sections.ts) and gets the same file reading, `--a.b value` flags, deprecated-name
 * handling and one-line errors from `defineConfig`.
 */
import type { z } from 'zod';
import { renameDeprecated, renameFlag, type DeprecatedKey } from './aliases.ts';
import { parseOverrides, readConfigFile, setPath } from './read.ts';
import { describeConfig, parseConfig } from './validate.ts';

export type { DeprecatedKey } from './aliases.ts';
export { parseOverrides, readConfigFile } from './read.ts';
export { describeConfig, parseConfig } from './validate.ts';
export * from './sections.ts';

export interface ConfigDefinition<S extends z.ZodType> {
  schema: S;
  /** validate a config object (deprecated names moved, with a warning); `label` starts every error line */
  parse(raw: unknown, label?: string): z.infer<S>;
  /** a config object with `--a.b value` flags applied, validated */
  withOverrides(raw: unknown, overrides: readonly string[], label?: string): z.infer<S>;
  /** read a YAML file (null: every key at its default), apply flags, validate; baseDir is the file's folder */
  load(file: string | null, overrides?: readonly string[]): { config: z.infer<S>; baseDir: string };
  /** every key with its default and doc, one per line */
  reference(): string;
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
  const parse = (raw: unknown, label = fallback, warned = new Set<string>()) => {
    const config = parseConfig(opts.schema, renameDeprecated(raw, deprecated, label, warned), label);
    opts.check?.(config, label);
    return config;
  };
  const withOverrides = (raw: unknown, overrides: readonly string[], label = fallback) => {
    const warned = new Set<string>();
    const out = renameDeprecated(raw ?? {}, deprecated, label, warned) as Record<string, unknown>;
    const target = out === raw ? structuredClone(out) : out;
    for (const [key, value] of parseOverrides(overrides)) {
      for (const [k, v] of renameFlag(key, value, deprecated, label, warned)) setPath(target, k, v);
    }
    return parse(target, label, warned);
  };
  return {
    schema: opts.schema,
    parse: (raw, label) => parse(raw, label),
    withOverrides,
    load(file, overrides = []) {
      const { raw, baseDir } = file === null ? { raw: {}, baseDir: process.cwd() } : readConfigFile(file);
      return { config: withOverrides(raw, overrides, file ?? fallback), baseDir };
    },
    reference: () => describeConfig(opts.schema).join('\n'),
  };
}
