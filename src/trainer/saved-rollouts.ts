/**
 * The batches an asynchronous run had generated ahead when it wrote a checkpoint (rollout-queue.ts), as one JSON file
 * of the checkpoint. A resumed run trains on exactly these — the same completions, log-probs, rewards and policy
 * versions — so it goes on as the stopped run would have, however the rollout servers would sample them again.
 * A rollout is stored without its example and prompt tokens (its dataset index restores them); numbers that JSON
 * cannot hold (NaN, ±Infinity) are stored as {"$number": "NaN"}.
 */
import { z } from 'zod';
import type { Example } from '../data/index.ts';
import { GrpoError } from '../errors.ts';
import type { Rollout, RolloutBatch } from './rollouts.ts';

export const SAVED_ROLLOUTS_FILE = 'rollouts-ahead.json';

/** any number, NaN and ±Infinity included (a failed reward may be NaN) */
const num = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const numbers = z.array(num);
const rolloutSchema = z.object({
  exampleIndex: z.number().int().nonnegative(),
  completionIds: z.array(z.number().int()),
  logprobs: numbers,
  sampledMask: numbers.optional(),
  episode: z
    .object({
      turns: z.number(),
      toolCalls: z.number(),
      toolErrors: z.number(),
      turnRewards: z.array(z.object({ reward: num, at: z.number() })),
    })
    .loose()
    .optional(),
  finishReason: z.enum(['stop', 'length']),
  text: z.string(),
  rewards: z.record(z.string(), num),
  reward: num,
  policyVersion: z.number().optional(),
});
const batchSchema = z.object({
  groups: z.array(z.array(rolloutSchema)),
  genBatches: z.number(),
  droppedGroups: z.number(),
  generated: z.number(),
  rewardFailures: z.number(),
  fracZeroStd: num,
  beforeFilter: z.object({ reward: num, completionLength: num, fracZeroStd: num }).optional(),
});
const fileSchema = z.object({ batches: z.array(batchSchema) });

export function serializeBatches(batches: RolloutBatch[]): string {
  const stored = batches.map((b) => ({
    ...b,
    groups: b.groups.map((g) => g.map(({ example: _e, promptIds: _p, ...rest }) => rest)),
  }));
  return JSON.stringify({ batches: stored }, (_k, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v,
  );
}

/** The saved batches with their examples and prompt tokens; refused when they do not fit the run's dataset. */
export function restoreBatches(
  json: string,
  file: string,
  prompts: { examples: Example[]; promptIds: number[][] },
): RolloutBatch[] {
  const parsed = fileSchema.safeParse(
    JSON.parse(json, (_k, v) => (v && typeof v === 'object' && '$number' in v ? Number(v.$number) : v)),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GrpoError(
      'checkpoint',
      `${file}: '${issue.path.join('.')}' ${issue.message.toLowerCase()}: the file was edited or damaged; restore it, or delete it to generate those batches again`,
    );
  }
  return parsed.data.batches.map((b) => ({
    ...b,
    groups: b.groups.map((g) =>
      g.map((r): Rollout => {
        const example = prompts.examples[r.exampleIndex];
        if (!example)
          throw new GrpoError(
            'checkpoint',
            `${file} holds rollouts of training example ${r.exampleIndex}, but the dataset has ${prompts.examples.length}: resume with the run's own data, or delete the file to generate those batches again`,
          );
        return { ...r, example, promptIds: prompts.promptIds[r.exampleIndex] };
      }),
    ),
  }));
}
