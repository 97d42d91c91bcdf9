/**
 * `grpo gepa --config FILE [--key value …]`: what the command line calls. Reads the YAML config (paths and plugins in it
 * resolve against its folder), applies the flags, validates it and runs GEPA; the run resumes from
 * <out_dir>/<name>/ when a state is there.
 */
import { gepaConfig } from './config.ts';
import { runGepa, type GepaResult } from './run.ts';

export async function gepaCommand(
  configPath: string,
  opts: { quiet?: boolean; overrides?: readonly string[] } = {},
): Promise<GepaResult> {
  const { config, baseDir } = await gepaConfig.loadAsync(configPath, opts.overrides);
  return runGepa(config, { baseDir, quiet: opts.quiet });
}

/** Every config key with its default and doc, one per line (for `--help` or docs). */
export function gepaConfigReference(): string {
  return gepaConfig.reference();
}
