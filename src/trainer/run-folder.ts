/**
 * A run folder belongs to one run: a new run never silently replaces an earlier one's metrics, checkpoint and
 * final model. Starting afresh where a run already is needs `overwrite: true` (--overwrite), which deletes them
 * first (so a later --resume cannot pick up the old checkpoint); continuing one is --resume.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { prepareOutputDir } from '../util/output-path.ts';
import { GrpoError } from '../errors.ts';

/** What a run writes into its folder (checkpoint.old / final.old: the previous versions kept during a swap), besides TensorBoard's events.out.tfevents.* files. */
const RUN_OUTPUTS = [
  'metrics.jsonl',
  'completions.jsonl',
  'config.yaml',
  'checkpoint',
  'checkpoint.old',
  'final',
  'final.old',
  'rollout-weights',
];

/** What an SFT run writes into its folder (it cannot be resumed: it is rerun). */
export const SFT_OUTPUTS = ['config.json', 'metrics.jsonl', 'model', 'rejection_samples.jsonl'];

/**
 * `outputs`: the files a run of this command writes; `resumable`: whether --resume continues one (grpo train),
 * else an earlier run is only replaced with --overwrite (grpo sft).
 */
export function claimRunFolder(
  runDir: string,
  opts: { resume: boolean; overwrite: boolean; outputs?: readonly string[]; resumable?: boolean },
): void {
  prepareOutputDir(runDir, 'the run');
  if (opts.resume) return;
  const found = [
    ...(opts.outputs ?? RUN_OUTPUTS).filter((f) => existsSync(path.join(runDir, f))),
    ...(existsSync(runDir) ? readdirSync(runDir).filter((f) => f.startsWith('events.out.tfevents.')) : []),
  ];
  if (found.length === 0) return;
  if (!opts.overwrite) {
    const resume = (opts.resumable ?? true) ? `continue it with --resume ${path.join(runDir, 'checkpoint')}, ` : '';
    throw new GrpoError(
      'config',
      `${runDir} already holds a run (${found.join(', ')}): ${resume}` +
        'start afresh there with --overwrite (deletes them), or choose another name (--name)',
    );
  }
  for (const f of found) rmSync(path.join(runDir, f), { recursive: true, force: true });
}
