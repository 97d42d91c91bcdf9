/**
 * The `grpo` command line. Thin: parse, call the library, print.
 */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { GrpoError } from '../errors.ts';
import { runGenerate } from './generate.ts';
import { runTrainCli } from './train.ts';
import { configReference } from '../trainer/config/reference.ts';
import { methodPresets } from '../trainer/config/presets.ts';
import { runServe } from './serve.ts';
import { registerSftCommand } from './sft.ts';
import { registerEvalCommand } from './eval.ts';
import { tfgrpoCommand } from '../trainingfree/tfgrpo/cli.ts';
import { gepaCommand } from '../trainingfree/gepa/cli.ts';
import { tfgrpoConfig } from '../trainingfree/tfgrpo/config.ts';
import { gepaConfig } from '../trainingfree/gepa/config.ts';
import { sftConfig } from '../sft/config.ts';
import { addModelFlags } from './model-flags.ts';
import { DEVICE_HELP } from '../engine/device-setting.ts';
import { registerMergeCommand } from './merge.ts';
import { runDoctor } from './doctor.ts';
import { pipelineConfig } from '../pipeline/config.ts';
import { addPluginFlag, configFlags } from './plugin-flag.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { registerDashboardCommand } from './dashboard.ts';
import { registerArenaCommand } from './arena.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('grpo')
  .description('Reinforcement-learning post-training (GRPO family) for Llama-family models, in TypeScript on ggml')
  .version(pkg.version);

const int = (v: string) => parseInt(v, 10);
addModelFlags(
  program
    .command('generate')
    .description('generate completions from a model (Hugging Face folder, .gguf, or llama2.c .bin)')
    .requiredOption('--model <path>', 'model: Hugging Face folder, .gguf, llama2.c .bin, or "embedded"')
    .option('--prompt <text>', 'prompt text (default: start from BOS)')
    .option('--max-tokens <n>', 'new tokens at most', int, 256)
    .option('--temperature <t>', 'sampling temperature; 0 is greedy', parseFloat, 1)
    .option('--top-p <p>', 'nucleus sampling mass', parseFloat)
    .option('--top-k <k>', 'keep the k most likely tokens', int)
    .option('--min-p <p>', 'keep tokens with probability ≥ p × the top one', parseFloat)
    .option('--n <n>', 'samples', int, 1)
    .option('--seed <s>', 'sampling seed', int, 0)
    .option('--stop <text...>', 'stop strings')
    .option('--json', 'one JSON line per sample with tokens and log-probs'),
).action((opts) => runGenerate(opts));

addPluginFlag(program.command('train'))
  .description('RL post-training (GRPO family) from a YAML config; any --section.key value overrides the file')
  .option('--config <file>', 'YAML run config')
  .option('--resume <dir>', 'continue from a checkpoint folder (runs/<name>/checkpoint)')
  .option(
    '--overwrite [bool]',
    'start afresh in a run folder that holds an earlier run (deletes its metrics, checkpoint and final model)',
  )
  .option('--device <d>', 'model.device: ' + DEVICE_HELP)
  .option(
    '--dashboard [port]',
    'serve the live dashboard of out_dir beside the run and print its URL (port default 6006, else any free one)',
  )
  .allowUnknownOption()
  .allowExcessArguments()
  .action(async (opts, cmd) => {
    await runTrainCli({
      config: opts.config,
      resume: opts.resume,
      overwrite: opts.overwrite,
      dashboard: opts.dashboard,
      overrides: configFlags(opts.device ? [...cmd.args, '--model.device', opts.device] : cmd.args, opts.plugin),
    });
  });

const OVERRIDES_HELP =
  '\nAny config key can be overridden as --section.key value (values read as YAML), e.g. --out_dir runs2';
// every command's config comes from the shared config module (src/config/); train's reference is commented YAML
const otherConfigs = { sft: sftConfig, pipeline: pipelineConfig, tfgrpo: tfgrpoConfig, gepa: gepaConfig };

program
  .command('config')
  .description(
    "print every config key with its default and doc: grpo train's (method knobs as a preset sets them), or another command's",
  )
  .option('--preset <name>', `one of ${methodPresets.names().join(', ')}`, 'grpo')
  .option('--command <name>', `train, ${Object.keys(otherConfigs).join(', ')}`, 'train')
  .action((opts) => {
    if (opts.command !== 'train') {
      const def = otherConfigs[opts.command as keyof typeof otherConfigs];
      if (!def)
        throw new GrpoError(
          'config',
          `--command '${opts.command}' is not one of train, ${Object.keys(otherConfigs).join(', ')}`,
        );
      process.stdout.write(def.reference() + '\n');
      return;
    }
    if (!methodPresets.has(opts.preset))
      throw new GrpoError('config', `--preset '${opts.preset}' is not one of ${methodPresets.names().join(', ')}`);
    process.stdout.write(configReference(opts.preset));
  });

registerSftCommand(program);
registerEvalCommand(program);
registerMergeCommand(program);
registerDashboardCommand(program);
registerArenaCommand(program);

addModelFlags(
  program
    .command('serve')
    .description(
      'serve a model over an OpenAI-compatible HTTP API (/v1/models, /v1/chat/completions, /v1/completions, /metrics, /update_weights_from_disk)',
    )
    .requiredOption(
      '--model <path>',
      'model: Hugging Face folder, .gguf, llama2.c .bin, or "embedded" (the shipped demo model)',
    )
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <n>', 'port; 0 = any free port', int, 8000)
    .option(
      '--api-key <key>',
      'require "Authorization: Bearer <key>" on every route but /health and /metrics, as vLLM (default: $GRPO_API_KEY)',
    )
    .option(
      '--allow-runtime-updates',
      'let clients load weights and LoRA adapters from paths they name (/update_weights_from_disk, /v1/load_lora_adapter): a trainer pushing weights needs it (default: $GRPO_ALLOW_RUNTIME_UPDATES=1; off)',
    )
    .option(
      '--truncate-prompts',
      'cut prompts that do not fit the context with max_tokens from the left, instead of answering 400 as vLLM does',
    )
    .option(
      '--request-timeout <seconds>',
      'seconds a request may take to arrive whole before a 408, counted also while the model computes (default 600; 0: no limit)',
      (v: string) => {
        const n = Number(v);
        if (v.trim() === '' || !(n >= 0))
          throw new GrpoError('config', `--request-timeout takes seconds ≥ 0 (0: no limit), got '${v}'`);
        return n;
      },
    )
    // internal: a local rollout server exits when its trainer does (src/rollout/local-servers.ts)
    .addOption(new Option('--exit-with-parent').hideHelp()),
).action(async (opts) => {
  await runServe(opts);
});

program
  .command('doctor')
  .description('the ggml build, the devices its backends found (CPU, Vulkan, CUDA, Metal), and the one a run would use')
  .option('--device <d>', DEVICE_HELP)
  .action((opts) => runDoctor(opts));

addPluginFlag(program.command('pipeline'))
  .description(
    "DeepSeek-R1's multi-stage recipe from one config: sft and train stages, each from the previous stage's model, resumable, in one run folder",
  )
  .requiredOption('--config <file>', 'YAML pipeline config (name, out_dir, model, stages)')
  .allowUnknownOption(true)
  .allowExcessArguments(true)
  .addHelpText('after', OVERRIDES_HELP)
  .action(async (opts, cmd) => {
    await runPipeline((await pipelineConfig.loadAsync(opts.config, configFlags(cmd.args, opts.plugin))).config);
  });

addPluginFlag(program.command('tfgrpo'))
  .description('Training-Free GRPO: learn an experience library in context against any OpenAI-compatible model')
  .requiredOption('--config <file>', 'YAML config')
  .allowUnknownOption(true)
  .allowExcessArguments(true)
  .addHelpText('after', OVERRIDES_HELP)
  .action(async (opts, cmd) => {
    await tfgrpoCommand(opts.config, { overrides: configFlags(cmd.args, opts.plugin) });
  });

addPluginFlag(program.command('gepa'))
  .description('GEPA: reflective prompt evolution with a Pareto front against any OpenAI-compatible model')
  .requiredOption('--config <file>', 'YAML config')
  .allowUnknownOption(true)
  .allowExcessArguments(true)
  .addHelpText('after', OVERRIDES_HELP)
  .action(async (opts, cmd) => {
    await gepaCommand(opts.config, { overrides: configFlags(cmd.args, opts.plugin) });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // expected failures are one line naming the problem; anything else is a bug and keeps its stack
  if (e instanceof GrpoError) {
    console.error(`grpo: ${e.message}`);
    process.exit(1);
  }
  // a full disk is the machine's state, not a bug: one line, wherever the write was
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    console.error(`grpo: the disk is full (${(e as Error).message}); free some space, then run again`);
    process.exit(1);
  }
  throw e;
}
