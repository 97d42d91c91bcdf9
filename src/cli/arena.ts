/** `grpo arena --config FILE --methods a,b,… [--seeds N] [--target ACC]`: every method on the same task, compared. */
import type { Command } from 'commander';
import { runArena } from '../arena/arena.ts';
import { writeArenaReport, markdownTable } from '../arena/report.ts';
import { methodPresets } from '../trainer/config/presets.ts';
import { GrpoError } from '../errors.ts';
import { trainConfig } from '../trainer/config/load.ts';
import { addPluginFlag, configFlags } from './plugin-flag.ts';

const number = (flag: string, ok: (n: number) => boolean, what: string) => (v: string) => {
  const n = Number(v);
  if (!ok(n)) throw new GrpoError('config', `${flag} takes ${what}, got '${v}'`);
  return n;
};

export function registerArenaCommand(program: Command): void {
  addPluginFlag(program.command('arena'))
    .description(
      'train the same task from the same start with each method and seed, then compare them (arena.md, arena.html)',
    )
    .requiredOption(
      '--config <file>',
      'YAML run config every run starts from; --section.key value overrides it for all',
    )
    .requiredOption(
      '--methods <list>',
      `comma-separated methods (algorithm.preset): ${methodPresets.names().join(', ')}`,
    )
    .option(
      '--seeds <n>',
      "seeds per method (the config's seed, seed + 1, …)",
      number('--seeds', (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1'),
      1,
    )
    .option(
      '--target <acc>',
      'held-out accuracy to reach (default: 90% of the best any run reached)',
      number('--target', (n) => n >= 0 && n <= 1, 'an accuracy between 0 and 1'),
    )
    .option('--arena-name <name>', 'folder under out_dir for the runs and the report (default: arena-<config name>)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(
      async (
        opts: {
          config: string;
          methods: string;
          seeds: number;
          target?: number;
          arenaName?: string;
          plugin?: string[];
        },
        cmd: Command,
      ) => {
        const overrides = configFlags(cmd.args, opts.plugin);
        // the config's plugins are imported first, so every run's config may name what they register
        await trainConfig.loadAsync(opts.config, overrides);
        const arena = await runArena({
          config: opts.config,
          methods: opts.methods.split(','),
          seeds: opts.seeds,
          overrides,
          name: opts.arenaName,
          onRun: (i, total, method, seed) => console.error(`arena: run ${i + 1}/${total}: ${method}, seed ${seed}`),
        });
        const { report, files } = await writeArenaReport(arena, opts.target);
        console.log(markdownTable(report));
        console.log(`report: ${files.join(', ')}\nruns: grpo dashboard ${arena.dir}`);
      },
    );
}
