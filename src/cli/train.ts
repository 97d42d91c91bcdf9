/** `grpo train --config FILE [--key value …] [--resume DIR]`: the RL loop from a YAML config. */
import { loadTrainConfig, parseOverrides, setPath, validateTrainConfig } from '../trainer/config/load.ts';
import { checkpointState } from '../trainer/checkpoint.ts';
import { train } from '../trainer/trainer.ts';
import type { EmbeddedTasks } from '../trainer/prompts.ts';
import { GrpoError } from '../errors.ts';

export interface TrainCliOptions {
  config?: string;
  resume?: string;
  /** `--a.b value` pairs as given on the command line */
  overrides: string[];
  tasks?: EmbeddedTasks;
}

export async function runTrainCli(o: TrainCliOptions, print: (line: string) => void = console.log): Promise<void> {
  let config;
  if (o.config) config = loadTrainConfig(o.config, o.overrides);
  else if (o.resume) {
    // resume with the configuration the run was started with (flags may still change keys, e.g. training.steps)
    const state = checkpointState(o.resume) as { config: Record<string, unknown> };
    for (const [k, v] of parseOverrides(o.overrides)) setPath(state.config, k, v);
    config = validateTrainConfig(state.config);
  } else throw new GrpoError('config', 'grpo train needs --config FILE (or --resume DIR of an earlier run)');
  const r = await train(config, { resume: o.resume, tasks: o.tasks });
  print(`run folder: ${r.runDir}`);
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  print(`accuracy_before=${f(r.accuracyBefore)} accuracy_after=${f(r.accuracyAfter)}`);
}
