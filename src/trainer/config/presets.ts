/**
 * Method presets: each fills every algorithm knob with the values of its paper or reference recipe
 * (../shared/reference/algorithms.md cards A1–A9); the user's config overrides any knob individually.
 */
import type { AlgorithmConfig, PresetName } from './schema.ts';
import type { AggregationMode } from '../../algorithms/index.ts';
import { GrpoError } from '../../errors.ts';

export interface ResolvedAlgorithm {
  preset: PresetName;
  advantage: 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_baseline' | 'reinforce_pp' | 'gae' | 'gdpo' | 'none';
  scale_rewards: 'group' | 'batch' | 'none';
  std: 'bessel' | 'population';
  adv_eps: number;
  whiten_advantages: boolean;
  loss: 'ppo' | 'gspo' | 'gspo_token' | 'disco' | 'gvpo';
  epsilon: number;
  epsilon_high: number;
  dual_clip_c?: number;
  aggregation: AggregationMode;
  kl_beta: number;
  kl_estimator: 'k1' | 'k2' | 'k3' | 'k3+';
  kl_placement: 'loss' | 'reward';
  num_iterations: number;
  mini_batches: number;
  dynamic_sampling: boolean;
  max_gen_batches: number;
  mask_truncated: boolean;
  soft_overlong_cache: number;
  gfpo_keep: number;
  gfpo_metric: 'length' | 'reward_per_token';
  gfpo_adaptive: boolean;
  hicra_alpha: number;
  hicra_grams: string[];
  entropy_coef: number;
  gamma: number;
  lambda: number;
  value_coef: number;
  value_clip: number;
  disco_score: 'logL' | 'Lratio';
  disco_tau: number;
  disco_delta: number;
  disco_beta: number;
  disco_threshold: number;
  gvpo_beta: number;
  rollout_correction: 'none' | 'token_truncate' | 'token_mask' | 'sequence_truncate' | 'sequence_mask';
  rollout_correction_max: number;
  rollout_correction_min?: number;
}

/** Strategic n-grams marking planning tokens (HICRA, arXiv 2509.03646 examples); override with hicra_grams. */
export const DEFAULT_STRATEGIC_GRAMS = [
  "let's try a different approach", 'let me check', 'wait', 'alternatively', 'on second thought',
  'let me verify', 'but wait', 'let me reconsider', 'the key idea is', 'first, we need to',
];

/** GRPO as in DeepSeekMath §4.1: group-normalised outcome advantages, PPO clip 0.2, k3 KL in the loss (β 0.04), sequence-mean aggregation. */
const GRPO: ResolvedAlgorithm = {
  preset: 'grpo', advantage: 'grpo', scale_rewards: 'group', std: 'bessel', adv_eps: 1e-6, whiten_advantages: false,
  loss: 'ppo', epsilon: 0.2, epsilon_high: 0.2, aggregation: 'seq-mean-token-mean',
  kl_beta: 0.04, kl_estimator: 'k3', kl_placement: 'loss', num_iterations: 1, mini_batches: 1,
  dynamic_sampling: false, max_gen_batches: 4, mask_truncated: false, soft_overlong_cache: 0,
  gfpo_keep: 0, gfpo_metric: 'length', gfpo_adaptive: false, hicra_alpha: 0, hicra_grams: DEFAULT_STRATEGIC_GRAMS,
  entropy_coef: 0, gamma: 1, lambda: 1, value_coef: 0.5, value_clip: 0.2,
  disco_score: 'logL', disco_tau: 10, disco_delta: 1e-4, disco_beta: 1e3, disco_threshold: 0.5, gvpo_beta: 0.1,
  // off: the embedded engine samples with the trainer's own graph; TRL's vLLM default is sequence_mask with C = 3
  rollout_correction: 'none', rollout_correction_max: 3,
};

export const PRESETS: Record<PresetName, ResolvedAlgorithm> = {
  grpo: GRPO,
  // Dr. GRPO (understand-r1-zero): no std scaling, constant length normaliser, no KL
  dr_grpo: { ...GRPO, preset: 'dr_grpo', advantage: 'dr_grpo', scale_rewards: 'none', aggregation: 'seq-mean-token-sum-norm', kl_beta: 0 },
  // DAPO §2–4: clip-higher 0.2/0.28, token-level loss, no KL, dynamic sampling, soft overlong punishment (cache = 20% of the limit)
  dapo: { ...GRPO, preset: 'dapo', epsilon_high: 0.28, aggregation: 'token-mean', kl_beta: 0, dynamic_sampling: true, soft_overlong_cache: -1 },
  // GSPO v2 §5.1 (TRL paper_index): sequence-level ratio, ε 3e-4 / 4e-4, no KL, 4 updates per rollout batch (it only acts off-policy)
  gspo: { ...GRPO, preset: 'gspo', loss: 'gspo', epsilon: 3e-4, epsilon_high: 4e-4, kl_beta: 0, mini_batches: 4 },
  // GFPO (arXiv 2508.09726): sample G, keep the shortest k = G/2, GRPO advantages over the kept ones
  gfpo: { ...GRPO, preset: 'gfpo', kl_beta: 0, gfpo_keep: -1, gfpo_metric: 'length' },
  // GDPO (NVlabs): each reward normalised in its group, weighted sum, batch normalisation
  gdpo: { ...GRPO, preset: 'gdpo', advantage: 'gdpo', kl_beta: 0 },
  // RLOO (TRL RLOOTrainer): leave-one-out baseline, no scaling, KL in the reward
  rloo: { ...GRPO, preset: 'rloo', advantage: 'rloo', scale_rewards: 'none', kl_beta: 0.05, kl_estimator: 'k1', kl_placement: 'reward', aggregation: 'token-mean' },
  // REINFORCE++ (OpenRLHF): token returns whitened over the batch, k1 KL in the reward (0.01)
  reinforce_pp: { ...GRPO, preset: 'reinforce_pp', advantage: 'reinforce_pp', scale_rewards: 'none', whiten_advantages: true, kl_beta: 0.01, kl_estimator: 'k1', kl_placement: 'reward', aggregation: 'token-mean' },
  // PPO as Open-Reasoner-Zero: critic value head, GAE λ = γ = 1, ε 0.2, no KL, advantages normalised over the batch
  ppo: { ...GRPO, preset: 'ppo', advantage: 'gae', scale_rewards: 'none', whiten_advantages: true, kl_beta: 0, value_coef: 0.5, value_clip: 0.2 },
  // DisCO (verl PR, Optimization-AI/DisCO): log-likelihood score, τ 10, squared-hinge KL (δ 1e-4, β 1e3), no clip
  disco: { ...GRPO, preset: 'disco', advantage: 'none', loss: 'disco', kl_beta: 0 },
  // GVPO (jszkc/GVPO): β 0.1 on the implicit reward, group-centred rewards, no KL, no clipping
  gvpo: { ...GRPO, preset: 'gvpo', advantage: 'dr_grpo', scale_rewards: 'none', loss: 'gvpo', kl_beta: 0 },
};

/** Preset values with the user's overrides; -1 sentinels become values derived from the run (group size, limit). */
export function resolveAlgorithm(a: AlgorithmConfig, run: { groupSize: number; maxTokens: number }): ResolvedAlgorithm {
  const base = PRESETS[a.preset];
  const out = { ...base } as ResolvedAlgorithm;
  for (const [k, v] of Object.entries(a)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  if (a.epsilon !== undefined && a.epsilon_high === undefined) out.epsilon_high = base.epsilon_high === base.epsilon ? a.epsilon : base.epsilon_high;
  if (out.soft_overlong_cache < 0) out.soft_overlong_cache = Math.max(1, Math.round(0.2 * run.maxTokens));
  if (out.gfpo_keep < 0) out.gfpo_keep = Math.max(1, Math.floor(run.groupSize / 2));
  checkGroupSize(out, run.groupSize);
  return out;
}

/** Advantages or losses taken relative to the other completions of the same prompt. */
const GROUP_RELATIVE = new Set<string>(['grpo', 'dr_grpo', 'rloo', 'reinforce_baseline', 'gdpo', 'disco', 'gvpo']);

/**
 * A group of one has nothing to be relative to: every advantage is 0 and the run would train on nothing, step
 * after step (TRL refuses num_generations < 2 for GRPO the same way).
 */
function checkGroupSize(a: ResolvedAlgorithm, groupSize: number): void {
  if (!GROUP_RELATIVE.has(a.advantage) && !GROUP_RELATIVE.has(a.loss)) return;
  const kept = a.gfpo_keep > 0 ? Math.min(a.gfpo_keep, groupSize) : groupSize;
  if (kept >= 2) return;
  const what = kept === groupSize ? `rollout.group_size ${groupSize}` : `algorithm.gfpo_keep ${a.gfpo_keep}`;
  throw new GrpoError('config', `${what} leaves one completion per prompt, and ${a.preset} scores each completion against the others of its prompt: ` +
    'every advantage would be 0. Use group_size ≥ 2 (8 is usual; gfpo_keep ≥ 2), or a method with a batch or learned baseline (reinforce_pp, ppo)');
}
