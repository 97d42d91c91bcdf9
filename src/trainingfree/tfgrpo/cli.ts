/**
 * `grpo tfgrpo --config FILE [--key value …]`: what the command line calls. Reads the YAML config (paths and plugins in it
 * resolve against its folder), applies the flags, validates it, runs Training-Free GRPO and prints where the
 * results are.
 */
import { fmt } from '../common/run-log.ts';
import { tfgrpoConfig } from './config.ts';
import { runTfGrpo, type TfGrpoResult } from './run.ts';

export async function tfgrpoCommand(
  configPath: string,
  opts: { quiet?: boolean; overrides?: readonly string[] } = {},
): Promise<TfGrpoResult> {
  const { config, baseDir } = await tfgrpoConfig.loadAsync(configPath, opts.overrides);
  const result = await runTfGrpo(config, { baseDir, quiet: opts.quiet });
  if (!opts.quiet) {
    console.log(
      `tfgrpo done: ${result.steps.length} step(s), ${result.library.size} lesson(s) in ${result.outDir}/library.json`,
    );
    if (result.before || result.after)
      console.log(`held-out mean score: before ${fmt(result.before?.mean)}, after ${fmt(result.after?.mean)}`);
  }
  return result;
}

/** Every config key with its default and doc, one per line (for `--help` or docs). */
export function tfgrpoConfigReference(): string {
  return tfgrpoConfig.reference();
}
