/** `--plugin PATH` (repeatable) for the commands that read a config: modules imported before it is validated. */
import type { Command } from 'commander';

export const PLUGIN_HELP =
  "import a module first (a path or package name; repeatable), so the rewards, methods, presets, transforms and tools it registers can be named in the config (as the config's plugins: list)";

export function addPluginFlag(cmd: Command): Command {
  return cmd.option('--plugin <module>', PLUGIN_HELP, (v: string, all: string[] = []) => [...all, v]);
}

/** The command's config flags with its `--plugin` modules, which the config module reads among them. */
export function configFlags(args: readonly string[], plugins: readonly string[] = []): string[] {
  return [...plugins.flatMap((p) => ['--plugin', p]), ...args];
}
