/**
 * `grpo sft --config FILE [--key value …]`: the supervised stages of the R1 pipeline (DeepSeek-R1 §2.3), cold-start
 * or rejection-sampling SFT (src/sft/run.ts), printing the held-out accuracy before and after.
 */
import type { Command } from 'commander';
import { sftConfig, sftConfigReference } from '../sft/config.ts';
import { addPluginFlag, configFlags } from './plugin-flag.ts';
import { runSft, type SftRunResult } from '../sft/run.ts';

/** `grpo sft --config FILE [--key value …]` (`--plugin PATH` among the flags). */
export async function sftCommand(
  configPath: string | null,
  overrides: readonly string[] = [],
  log?: (line: string) => void,
): Promise<SftRunResult> {
  return runSft((await sftConfig.loadAsync(configPath, overrides)).config, log);
}

/** Register `grpo sft` on the command line program. */
export function registerSftCommand(program: Command): Command {
  return addPluginFlag(program.command('sft'))
    .description(
      "supervised fine-tuning: cold-start SFT on reference completions, or rejection-sampling SFT on the model's own passing samples",
    )
    .option('--config <file>', 'YAML config (default: every key at its default)')
    .option('--print-config', 'list every config key with its default and doc, then exit')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      '\nAny config key can be overridden as --section.key value, e.g. --optimizer.lr 1e-4 --stage rejection_sampling',
    )
    .action(async (opts: { config?: string; printConfig?: boolean; plugin?: string[] }, cmd: Command) => {
      if (opts.printConfig) {
        console.log(sftConfigReference());
        return;
      }
      await sftCommand(opts.config ?? null, configFlags(cmd.args, opts.plugin));
    });
}
