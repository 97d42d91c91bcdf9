/**
 * Resumable training state, written atomically as one folder:
 *   model/                  the policy as a Hugging Face folder (config, weights, tokenizer) — or, with LoRA,
 *   adapter/                the policy's adapter as a PEFT folder (the base is the run's model.path)
 *   value_head.safetensors  the critic head, when the run has one
 *   optimizer.safetensors   AdamW moments m.<i>, v.<i> in the model's parameter order (whatever the groups)
 *   state.json              step, optimizer steps (per parameter group), RNG and sampler states, counters, metric line count, config
 *   rollouts-ahead.json     asynchronous runs: the batches generated ahead of the steps that train on them (saved-rollouts.ts)
 * Every tensor streams between the device and the file one at a time (never the whole state as host arrays).
 * Resuming restores all of it, so a killed run continues exactly as an uninterrupted one would.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { writeDirAtomic, readableDir, writeFileAtomic } from '../util/atomic.ts';
import { readSafetensors, writeSafetensors } from '../model/io/index.ts';
import { VALUE_HEAD } from '../model/llama-weights.ts';
import { lazyHostTensor } from '../model/host-tensor.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import { savePolicy } from './save-policy.ts';
import { SAVED_ROLLOUTS_FILE } from './saved-rollouts.ts';
import { z } from 'zod';
import { GrpoError } from '../errors.ts';

export interface TrainerState {
  step: number;
  rng: number;
  sampler: Record<string, unknown>;
  nonfiniteStreak: number;
  accuracyBefore: number | null;
  /** multi-turn runs: held-out tool calls per episode before training */
  toolCallsBefore?: number | null;
  config: unknown;
}

export function saveCheckpoint(
  dir: string,
  model: LlamaModel,
  tokenizer: Tokenizer,
  state: TrainerState,
  /** asynchronous runs: the batches generated ahead, serialized (saved-rollouts.ts) */
  rolloutsAhead?: string,
): void {
  const opt = model.optimizer;
  writeDirAtomic(dir, (tmp) => {
    if (rolloutsAhead) writeFileAtomic(path.join(tmp, SAVED_ROLLOUTS_FILE), rolloutsAhead);
    savePolicy(path.join(tmp, model.lora ? 'adapter' : 'model'), model, tokenizer);
    const head = model.weights.valueHead;
    if (head)
      writeSafetensors(path.join(tmp, 'value_head.safetensors'), [
        [VALUE_HEAD, lazyHostTensor([1, head.ne[0]], () => head.readF32())],
      ]);
    writeSafetensors(
      path.join(tmp, 'optimizer.safetensors'),
      opt.momentTensors(model.trainableParams).map(([name, t]) => [name, lazyHostTensor([t.numel], () => t.readF32())]),
    );
    writeFileAtomic(
      path.join(tmp, 'state.json'),
      JSON.stringify(
        {
          ...state,
          optimizerStep: opt.stepCount,
          optimizerSteps: opt.stepCounts(),
          dropoutRng: model.dropoutRng.state,
        },
        null,
        1,
      ),
    );
  });
}

/** The complete checkpoint folder (or its previous version after a crash mid-write). */
function checkpointDir(dir: string): string {
  const found = readableDir(dir);
  if (!found || !existsSync(path.join(found, 'state.json')))
    throw new GrpoError('checkpoint', `no complete checkpoint in ${dir} (expected state.json written by grpo train)`);
  return found;
}

/** The batches an asynchronous run generated ahead (serialized) and the file they came from, or null. */
export function checkpointRolloutsAhead(dir: string): { json: string; file: string } | null {
  const file = path.join(checkpointDir(dir), SAVED_ROLLOUTS_FILE);
  return existsSync(file) ? { json: readFileSync(file, 'utf8'), file } : null;
}

/** What to open to resume: the policy's model folder, or (LoRA) the adapter to put on the run's base. */
export function checkpointPolicy(dir: string): { model?: string; adapter?: string } {
  const found = checkpointDir(dir);
  const adapter = path.join(found, 'adapter');
  if (existsSync(adapter)) return { adapter };
  checkpointFile(found, 'model', 'the policy');
  return { model: path.join(found, 'model') };
}

const stateSchema = z.object({
  step: z.number().int().nonnegative(),
  rng: z.number(),
  sampler: z.record(z.string(), z.unknown()),
  nonfiniteStreak: z.number().int().nonnegative(),
  accuracyBefore: z.number().nullable(),
  toolCallsBefore: z.number().nullable().optional(),
  config: z.record(z.string(), z.unknown()),
  optimizerStep: z.number().int().nonnegative(),
  /** per parameter group (the PPO critic counts its own steps); absent in checkpoints from before groups */
  optimizerSteps: z.record(z.string(), z.number().int().nonnegative()).optional(),
  dropoutRng: z.number().optional(),
});

type SavedState = TrainerState & {
  optimizerStep: number;
  optimizerSteps?: Record<string, number>;
  dropoutRng?: number;
};

/** The run's state.json (its config, to resume with it), checked field by field. */
export function checkpointState(dir: string): SavedState {
  return readState(checkpointDir(dir));
}

function readState(found: string): SavedState {
  const file = path.join(found, 'state.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new GrpoError(
      'checkpoint',
      `${file} is not readable JSON (${(e as Error).message.split('\n')[0]}): it was damaged after grpo wrote it; restore it, or start the run afresh with --overwrite`,
    );
  }
  const r = stateSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new GrpoError(
      'checkpoint',
      `${file}: '${issue.path.join('.') || '(root)'}' ${issue.message.toLowerCase()}: the file was edited or damaged; restore it, or start the run afresh with --overwrite`,
    );
  }
  return r.data as SavedState;
}

/** A file the checkpoint must hold. */
function checkpointFile(found: string, name: string, why: string): string {
  const file = path.join(found, name);
  if (!existsSync(file))
    throw new GrpoError(
      'checkpoint',
      `${found} has no ${name} (${why}): the checkpoint is incomplete; resume from an intact copy, or start afresh with --overwrite`,
    );
  return file;
}

/** Restore critic head, optimizer moments and dropout RNG into `model` and return the trainer state. */
export function loadCheckpoint(dir: string, model: LlamaModel): TrainerState {
  const found = checkpointDir(dir);
  const state = readState(found);
  if (model.weights.valueHead) {
    const head = readSafetensors(
      checkpointFile(found, 'value_head.safetensors', 'the critic head this run trains'),
    ).get(VALUE_HEAD);
    if (!head || head.data.length !== model.weights.valueHead.numel)
      throw new GrpoError(
        'checkpoint',
        `${found}/value_head.safetensors lacks '${VALUE_HEAD}' of ${model.weights.valueHead.numel} values: it was written for a different model`,
      );
    model.weights.valueHead.write(head.data);
  }
  const moments = readSafetensors(checkpointFile(found, 'optimizer.safetensors', 'the AdamW moments'), () => true, {
    lazy: true,
  });
  for (const [name, t] of model.optimizer.momentTensors(model.trainableParams)) {
    const saved = moments.get(name);
    if (saved?.shape.length !== 1 || saved.shape[0] !== t.numel)
      throw new GrpoError(
        'checkpoint',
        `${found}/optimizer.safetensors lacks '${name}' of ${t.numel} values: it was written for a different model`,
      );
    t.write(saved.data);
  }
  // a group the checkpoint does not list (one written before groups) resumes at the policy's count
  const opt = model.optimizer;
  opt.setStepCounts(
    Object.fromEntries(opt.groupNames.map((n) => [n, state.optimizerSteps?.[n] ?? state.optimizerStep])),
  );
  if (state.dropoutRng !== undefined) model.dropoutRng.state = state.dropoutRng;
  return state;
}
