/** `grpo train --config FILE [--key value …] [--resume DIR]`: the RL loop from a YAML config. */
import { trainConfig } from '../trainer/config/load.ts';
import { checkpointState } from '../trainer/checkpoint.ts';
import { train } from '../trainer/trainer.ts';
import type { EmbeddedTasks } from '../data/index.ts';
import { GrpoError } from '../errors.ts';
import { spawnDashboard } from './dashboard.ts';
import path from 'node:path';

export interface TrainCliOptions {
  config?: string;
  resume?: string;
  /** `--a.b value` pairs as given on the command line (`--plugin PATH` among them) */
  overrides: string[];
  /** embedded tasks besides the built-in ones, or replacing them by name */
  tasks?: EmbeddedTasks;
  /** start afresh in a run folder that holds an earlier run (`--overwrite`, `--overwrite true|false`) */
  overwrite?: boolean | string;
  /** serve the dashboard of out_dir while the run lasts (`--dashboard [port]`: true, or the port given) */
  dashboard?: boolean | string;
}

export async function runTrainCli(o: TrainCliOptions, print: (line: string) => void = console.log): Promise<void> {
  let config;
  // the config's plugins are imported before it is validated, so what they register can be named in it
  if (o.config) config = (await trainConfig.loadAsync(o.config, o.overrides)).config;
  else if (o.resume) {
    // resume with the configuration the run was started with (flags may still change keys, e.g. training.steps)
    const state = checkpointState(o.resume) as { config: Record<string, unknown> };
    config = await trainConfig.withOverridesAsync(state.config, o.overrides, `${o.resume} config`);
  } else throw new GrpoError('config', 'grpo train needs --config FILE (or --resume DIR of an earlier run)');
  if (o.overwrite !== undefined) {
    if (![true, 'true', 'false'].includes(o.overwrite))
      throw new GrpoError('config', `--overwrite takes true or false (or nothing, meaning true), got '${o.overwrite}'`);
    config.overwrite = o.overwrite !== 'false';
  }
  // the first Ctrl-C / SIGTERM ends the run after the current step with a checkpoint; a second one quits at once
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    console.error(
      `\n${sig}: stopping after this step and writing a checkpoint (${sig} again quits at once, losing the step)`,
    );
    stop.abort();
  };
  let dashboard;
  if (o.dashboard !== undefined && o.dashboard !== false) {
    const port = o.dashboard === true ? undefined : Number(o.dashboard);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
      throw new GrpoError('config', `--dashboard takes an optional port number, got '${o.dashboard}'`);
    dashboard = await spawnDashboard(config.out_dir, port);
    print(
      `dashboard: ${dashboard.url}?run=${encodeURIComponent(config.name)} (it stops when the run ends; grpo dashboard ${config.out_dir} serves it again)`,
    );
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let r;
  try {
    r = await train(config, { resume: o.resume, tasks: o.tasks, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    dashboard?.stop();
  }
  print(`run folder: ${r.runDir}`);
  if (r.interrupted) {
    print(`stopped at step ${r.steps}; continue with: grpo train --resume ${path.join(r.runDir, 'checkpoint')}`);
    process.exitCode = 130;
    return;
  }
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  // multi-turn runs add held-out tool calls per episode
  const tools =
    r.toolCallsBefore === null && r.toolCallsAfter === null
      ? ''
      : ` tool_calls_before=${f(r.toolCallsBefore)} tool_calls_after=${f(r.toolCallsAfter)}`;
  print(`accuracy_before=${f(r.accuracyBefore)} accuracy_after=${f(r.accuracyAfter)}${tools}`);
}
