/** `grpo train` from the sources as a child process, and a short run of the demo's task on the embedded model. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_CONFIG = path.join(ROOT, 'configs/demo.yaml');

/** the executable and arguments of `grpo train ARGS` */
export const grpoTrain = (args: string[]) =>
  [process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'train', ...args]] as const;

/** steps of 2 prompts, no evaluation between steps, a held-out evaluation of 4, one thread */
export const shortRun = (out: string, name: string, steps = 400) => [
  '--out_dir',
  out,
  '--name',
  name,
  '--training.steps',
  String(steps),
  '--training.eval_every',
  '0',
  '--data.eval_size',
  '4',
  '--rollout.prompts_per_step',
  '2',
  '--training.micro_batch_groups',
  '2',
  '--model.threads',
  '1',
];
