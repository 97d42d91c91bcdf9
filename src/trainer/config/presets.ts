/**
 * Method presets: each fills the shared knobs and its methods' options with the values of its paper or reference
 * recipe (docs/methods/); the user's config overrides any of them individually. Presets are a registry too:
 * `registerPreset` adds one that `algorithm.preset` can name.
 */
import type { z } from 'zod';
import {
  AlgorithmKeyError,
  advantageEstimators,
  policyLosses,
  methodOptions,
  Registry,
  type OptionsSchema,
} from '../../algorithms/index.ts';
import { GrpoError } from '../../errors.ts';
import { closestKey } from '../../util/edit-distance.ts';
import { sharedAlgorithmSchema } from './algorithm-schema.ts';
import { batchTransforms, type ActiveTransform } from '../transforms/index.ts';

type SharedOutput = z.output<typeof sharedAlgorithmSchema>;
/** The shared knobs, every one set. */
export type SharedSettings = {
  [K in Exclude<keyof SharedOutput, 'rollout_correction_min'>]-?: NonNullable<SharedOutput[K]>;
} & { rollout_correction_min?: number };

/**
 * The settings a run uses: the shared knobs, the chosen methods' own options, parsed by their schemas, and the
 * batch transforms the run applies, in the order their hooks run.
 */
export interface ResolvedAlgorithm extends SharedSettings {
  advantage_options: Record<string, unknown>;
  loss_options: Record<string, unknown>;
  /** every registered transform's options, flat (key → value), as the config names them */
  transform_options: Record<string, unknown>;
  /** the transforms this run applies, in the order their hooks run */
  batch_transforms: ActiveTransform[];
}

export interface MethodPreset {
  name: string;
  /** one line: the method and its source */
  description: string;
  /** shared knobs and options of its advantage estimator and policy loss; what is left out takes the defaults */
  settings: Partial<SharedSettings> & Record<string, unknown>;
}

export const methodPresets = new Registry<MethodPreset>('method preset');

/** GRPO as in DeepSeekMath §4.1: the shared knobs every preset starts from. */
const SHARED_DEFAULTS: SharedSettings = {
  preset: 'grpo',
  advantage: 'grpo',
  loss: 'ppo',
  aggregation: 'seq-mean-token-mean',
  kl_beta: 0.04,
  kl_estimator: 'k3',
  kl_placement: 'loss',
  kl_clamp: 0,
  num_iterations: 1,
  mini_batches: 1,
  mask_truncated: false,
  transforms: [],
  entropy_coef: 0,
  // off: the embedded decoder samples with the trainer's own graph; TRL's vLLM default is sequence_mask with C = 3
  rollout_correction: 'none',
  rollout_correction_max: 3,
};

const SHARED_KEYS = Object.keys(sharedAlgorithmSchema.shape);
const optionKeys = (schema: OptionsSchema) => Object.keys(schema.shape);
/** every registered batch transform's option keys (a user may register one after this module loads) */
const transformKeys = () => batchTransforms.all().flatMap((t) => optionKeys(t.options));
const pick = (o: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

/** Adds a preset; its settings must be shared knobs, batch transform options, or options of its own advantage estimator and policy loss. */
export function registerPreset(preset: MethodPreset): MethodPreset {
  const merged = { ...SHARED_DEFAULTS, ...preset.settings };
  const known = [
    ...SHARED_KEYS,
    ...transformKeys(),
    ...optionKeys(advantageEstimators.get(merged.advantage).options),
    ...optionKeys(policyLosses.get(merged.loss).options),
  ];
  const stray = Object.keys(preset.settings).find((k) => !known.includes(k));
  if (stray)
    throw new GrpoError(
      'config',
      `preset '${preset.name}': '${stray}' is neither a shared knob, a batch transform option, nor an option of advantage '${merged.advantage}' or loss '${merged.loss}'`,
    );
  return methodPresets.add(preset);
}

function lookup<T extends { name: string }>(registry: Registry<T>, key: string, name: string): T {
  if (!registry.has(name))
    throw new AlgorithmKeyError(
      key,
      `unknown ${registry.kind} '${name}'; use one of ${registry.names().join(', ')} (or register one)`,
    );
  return registry.get(name);
}

/** Where each of the user's algorithm keys goes, or the first one that has nowhere to go. */
function split(a: Record<string, unknown>) {
  const preset = lookup(methodPresets, 'preset', (a.preset as string | undefined) ?? 'grpo');
  const merged: Record<string, unknown> = {
    ...SHARED_DEFAULTS,
    ...preset.settings,
    ...pick(a, Object.keys(a)),
    preset: preset.name,
  };
  const estimator = lookup(advantageEstimators, 'advantage', merged.advantage as string);
  const loss = lookup(policyLosses, 'loss', merged.loss as string);
  const estimatorKeys = optionKeys(estimator.options),
    lossKeys = optionKeys(loss.options),
    ownTransformKeys = transformKeys();
  for (const name of (merged.transforms as string[] | undefined) ?? []) lookup(batchTransforms, 'transforms', name);
  for (const key of Object.keys(a)) {
    if (
      SHARED_KEYS.includes(key) ||
      estimatorKeys.includes(key) ||
      lossKeys.includes(key) ||
      ownTransformKeys.includes(key)
    )
      continue;
    const owner = [
      ...advantageEstimators.all().map((m) => ['advantage estimator', m] as const),
      ...policyLosses.all().map((m) => ['policy loss', m] as const),
    ].find(([, m]) => optionKeys(m.options).includes(key));
    const close = closestKey(key, [...SHARED_KEYS, ...ownTransformKeys, ...estimatorKeys, ...lossKeys]);
    throw new AlgorithmKeyError(
      key,
      owner
        ? `an option of ${owner[0]} '${owner[1].name}', but this run's advantage is '${estimator.name}' and its loss '${loss.name}' (preset ${preset.name})`
        : `unknown key${close ? ` (did you mean '${close}'?)` : ''}; advantage '${estimator.name}' and loss '${loss.name}' take ${[...estimatorKeys, ...lossKeys].join(', ') || 'no options'}`,
    );
  }
  return { merged, estimator, loss, estimatorKeys, lossKeys };
}

/** Each registered transform's options, parsed by its schema from the merged settings. */
function transformOptionsOf(merged: Record<string, unknown>): Map<string, Record<string, unknown>> {
  return new Map(
    batchTransforms
      .all()
      .map((t) => [t.name, methodOptions(t, 'batch transform', pick(merged, optionKeys(t.options)))]),
  );
}

/** Zod issues for the `algorithm` section: unknown presets, methods or transforms, and options none of them takes. */
export function checkAlgorithm(a: Record<string, unknown>): { path: string[]; message: string }[] {
  try {
    const { merged, estimator, loss, estimatorKeys, lossKeys } = split(a);
    methodOptions(estimator, 'advantage estimator', pick(merged, estimatorKeys));
    methodOptions(loss, 'policy loss', pick(merged, lossKeys));
    transformOptionsOf(merged);
    return [];
  } catch (e) {
    if (e instanceof AlgorithmKeyError) return [{ path: e.key.split('.'), message: e.detail }];
    if (e instanceof GrpoError) return [{ path: [], message: e.message }];
    throw e;
  }
}

/** Preset values with the user's overrides; -1 sentinels become values derived from the run (group size, limit). */
export function resolveAlgorithm(
  a: Record<string, unknown>,
  run: { groupSize: number; maxTokens: number },
): ResolvedAlgorithm {
  const { merged, estimator, loss, estimatorKeys, lossKeys } = split(a);
  const shared = pick(merged, SHARED_KEYS) as unknown as SharedSettings;
  const groupRelative = comparesWithinGroups(estimator.name, loss.name);
  checkGroupSize(shared.preset, run.groupSize, groupRelative);
  // the transforms their own keys turn on and those named in algorithm.transforms, in registration order
  const named = new Set(shared.transforms);
  const transforms: ActiveTransform[] = [];
  const transform_options: Record<string, unknown> = {};
  for (const [name, parsed] of transformOptionsOf(merged)) {
    const t = batchTransforms.get(name);
    const options = t.resolve
      ? t.resolve(parsed as never, { groupSize: run.groupSize, maxTokens: run.maxTokens, groupRelative })
      : parsed;
    Object.assign(transform_options, options);
    if (named.has(name) || t.active?.(options as never)) transforms.push({ transform: t, options });
  }
  return {
    ...shared,
    advantage_options: methodOptions(estimator, 'advantage estimator', pick(merged, estimatorKeys)),
    loss_options: methodOptions(loss, 'policy loss', pick(merged, lossKeys)),
    transform_options,
    batch_transforms: transforms,
  };
}

/** The method scores each completion against the others of its prompt (its estimator or its loss does). */
export function comparesWithinGroups(advantage: string, loss: string): boolean {
  return !!advantageEstimators.get(advantage).groupRelative || !!policyLosses.get(loss).wholeGroups;
}

/**
 * A group of one has nothing to be relative to: every advantage is 0 and the run would train on nothing, step
 * after step (TRL refuses num_generations < 2 for GRPO the same way). GFPO's filter checks what it keeps.
 */
function checkGroupSize(preset: string, groupSize: number, groupRelative: boolean): void {
  if (!groupRelative || groupSize >= 2) return;
  throw new GrpoError(
    'config',
    `rollout.group_size ${groupSize} leaves one completion per prompt, and ${preset} scores each completion against the others of its prompt: ` +
      'every advantage would be 0. Use group_size ≥ 2 (8 is usual), or a method with a batch or learned baseline (reinforce_pp, ppo)',
  );
}

// The built-in presets, each from its paper or reference recipe (docs/methods/<name>.md says where each value comes from).
registerPreset({
  name: 'grpo',
  description:
    'group mean/std advantages, PPO clip 0.2, k3 KL in the loss (β 0.04), sequence-mean aggregation (DeepSeekMath)',
  settings: {},
});
registerPreset({
  name: 'dr_grpo',
  description: 'no std scaling, constant length normaliser, no KL (Dr. GRPO)',
  settings: { advantage: 'dr_grpo', aggregation: 'seq-mean-token-sum-norm', kl_beta: 0 },
});
registerPreset({
  name: 'dapo',
  description:
    'clip-higher 0.2/0.28, token-mean loss, dynamic sampling on accuracy, soft overlong punishment, no KL, 16 updates per rollout batch (DAPO)',
  settings: {
    epsilon_high: 0.28,
    aggregation: 'token-mean',
    kl_beta: 0,
    dynamic_sampling: true,
    soft_overlong_cache: -1,
    mini_batches: 16,
  },
});
registerPreset({
  name: 'gspo',
  description: 'sequence-level ratio (geometric mean), ε 3e-4/4e-4, no KL, 4 updates per rollout batch (GSPO v2 §5.1)',
  settings: { loss: 'gspo', aggregation: 'seq-mean-token-mean', kl_beta: 0, mini_batches: 4 },
});
registerPreset({
  name: 'gspo_token',
  description: 'GSPO-token: GSPO\'s sequence ratio with per-token gradients (verl "gspo"), 4 updates per rollout batch',
  settings: { loss: 'gspo_token', aggregation: 'seq-mean-token-mean', kl_beta: 0, mini_batches: 4 },
});
registerPreset({
  name: 'gfpo',
  description:
    'keep the shortest half of each group, GRPO advantages over the kept ones, token-mean loss (GFPO; TRL GFPOTrainer)',
  settings: { kl_beta: 0, gfpo_keep: -1, gfpo_metric: 'length', aggregation: 'token-mean' },
});
registerPreset({
  name: 'gdpo',
  description: 'each reward normalised in its group, weighted sum, batch normalisation (GDPO)',
  settings: { advantage: 'gdpo', kl_beta: 0 },
});
registerPreset({
  name: 'rloo',
  description:
    'leave-one-out baseline, one ratio per sequence, k1 KL summed into the reward (β 0.05) (TRL RLOOTrainer)',
  settings: {
    advantage: 'rloo',
    loss: 'rloo',
    kl_beta: 0.05,
    kl_estimator: 'k1',
    kl_placement: 'reward',
    aggregation: 'seq-mean-token-mean',
  },
});
registerPreset({
  name: 'reinforce_pp',
  description:
    'token returns whitened over the batch, k1 KL in the reward (β 0.01) clamped to ±10 per token as OpenRLHF clamps it (REINFORCE++)',
  settings: {
    advantage: 'reinforce_pp',
    kl_beta: 0.01,
    kl_estimator: 'k1',
    kl_placement: 'reward',
    kl_clamp: 10,
    aggregation: 'token-mean',
  },
});
// ORZ custom_reward_fn: only a stopped response can acquire reward (a truncated one scores 0)
registerPreset({
  name: 'ppo',
  description:
    'critic value head trained in its own pass (12 steps per rollout batch, lr 5e-6), GAE λ = γ = 1, clip 0.2, no KL, advantages whitened with the population std (rsqrt(max(var, 1e-8))), a token mean over the batch (packed rows), truncated completions score 0 (Open-Reasoner-Zero)',
  // ORZ trains on packed rows, whose masked mean is a token mean over the whole batch
  settings: {
    advantage: 'gae',
    kl_beta: 0,
    critic_lr: 5e-6,
    critic_update_steps: 12,
    require_stop: true,
    aggregation: 'token-mean',
  },
});
registerPreset({
  name: 'disco',
  description:
    'discriminative objective, squared-hinge KL trust region (δ 1e-4, β 1e3), no clipping, 4 updates per rollout batch (DisCO)',
  settings: { advantage: 'none', loss: 'disco', kl_beta: 0, mini_batches: 4 },
});
registerPreset({
  name: 'gvpo',
  description:
    'implicit-reward regression on centred rewards (β 0.1), no KL, no clipping, 4 updates per rollout batch (GVPO)',
  settings: { advantage: 'dr_grpo', loss: 'gvpo', kl_beta: 0, mini_batches: 4 },
});
