/**
 * One RL step's metrics record (docs/metrics.md): rewards, accuracy, lengths, the KL, the update's statistics, the
 * stages' times and peak memory, with TRL's names where TRL has one.
 */
import { klEstimate } from '../algorithms/index.ts';
import type { ResolvedAlgorithm } from './config/presets.ts';
import { mean, std, type MetricRecord } from './metrics.ts';
import { isCorrect, type RolloutBatch } from './rollouts.ts';
import type { UpdateSequence } from './update-sequence.ts';
import type { UpdateResult } from './update-stage.ts';

/**
 * KL to the reference, null for a method without one (as TRL logs `kl` only when β ≠ 0). With the penalty in the
 * reward (RLOO, REINFORCE++, PPO as in InstructGPT) the loss has no KL term: the KL of the behaviour policy to the
 * reference, per token with the method's estimator, is what the penalty was made of.
 */
export function stepKl(seqs: UpdateSequence[], algorithm: ResolvedAlgorithm, upd: UpdateResult | null): number | null {
  if (!(algorithm.kl_beta > 0)) return null;
  if (algorithm.kl_placement === 'loss') return upd?.kl ?? null;
  if (!seqs.length || !seqs[0].refLogp) return null;
  let sum = 0,
    n = 0;
  for (const s of seqs)
    s.oldLogp.forEach((lp, t) => {
      if (s.sampledMask?.[t] !== 0) {
        sum += klEstimate(algorithm.kl_estimator, lp, s.refLogp![t]);
        n++;
      }
    });
  return n ? sum / n : null;
}

export function stepMetrics(
  step: number,
  batch: RolloutBatch,
  correctness: string | undefined,
  upd: UpdateResult | null,
  kl: number | null,
  optimizerStep: number,
  t: Record<string, number>,
): MetricRecord {
  const flat = batch.groups.flat();
  const rewards = flat.map((r) => r.reward);
  const lengths = flat.map((r) => r.completionIds.length);
  const names = flat.length ? Object.keys(flat[0].rewards) : [];
  const rec: MetricRecord = {
    step,
    // seconds since the Unix epoch when the step ended (TensorBoard's wall_time)
    wall_time: Date.now() / 1000,
    reward: flat.length ? mean(rewards) : null,
    reward_std: flat.length ? std(rewards) : null,
    accuracy: correctness && flat.length ? flat.filter((r) => isCorrect(r, correctness)).length / flat.length : null,
    completion_length: flat.length ? mean(lengths) : null,
    completion_length_max: flat.length ? Math.max(...lengths) : null,
    truncated_ratio: flat.length ? flat.filter((r) => r.finishReason === 'length').length / flat.length : null,
    frac_reward_zero_std: batch.fracZeroStd,
    // KL to the reference, whether it is penalised in the loss or in the reward
    kl,
    entropy: upd?.entropy ?? null,
    clip_ratio: upd?.clipRatio ?? null,
    loss: upd?.loss ?? null,
    grad_norm: upd?.gradNorm ?? null,
    learning_rate: upd?.lr ?? null,
    optimizer_step: optimizerStep,
    skipped_updates: upd?.skipped ?? 0,
    gen_batches: batch.genBatches,
    dropped_groups: batch.droppedGroups,
    reward_failures: batch.rewardFailures,
    'time/generate_ms': Math.round(t.generate),
    'time/prepare_ms': Math.round(t.prepare),
    'time/update_ms': Math.round(t.update),
    // KiB on Linux and macOS alike (Node normalises ru_maxrss); GB = 1e9 bytes, as the memory plan counts
    'memory/peak_rss_gb': Math.round((process.resourceUsage().maxRSS * 1024) / 1e7) / 100,
  };
  for (const n of names) rec[`rewards/${n}/mean`] = mean(flat.map((r) => r.rewards[n]));
  for (const [k, v] of Object.entries(upd?.policyStats ?? {})) rec[`policy/${k}`] = v;
  for (const [k, v] of Object.entries(upd?.critic ?? {})) rec[`critic/${k}`] = Number.isFinite(v) ? v : null;
  if (flat.some((r) => r.episode)) {
    // multi-turn episodes (TRL logs tools/call_frequency and tools/failure_frequency = failed calls / calls)
    const calls = flat.reduce((n, r) => n + (r.episode?.toolCalls ?? 0), 0);
    const failed = flat.reduce((n, r) => n + (r.episode?.toolErrors ?? 0), 0);
    rec['tools/calls_per_episode'] = calls / flat.length;
    rec['tools/failure_frequency'] = calls ? failed / calls : 0;
    rec['episode/turns'] = mean(flat.map((r) => r.episode?.turns ?? 1));
  }
  if (batch.beforeFilter) {
    rec['gfpo/sampled_reward'] = batch.beforeFilter.reward;
    rec['gfpo/sampled_completion_length'] = batch.beforeFilter.completionLength;
    rec['gfpo/sampled_frac_reward_zero_std'] = batch.beforeFilter.fracZeroStd;
  }
  return rec;
}

/**
 * Rollouts from servers: how many policy versions behind the policy that trains on them they were sampled (AReaL's
 * staleness; 0 in a synchronous run) and how long the trainer waited for them (for the batch, and for the servers
 * to take the new weights after the requests they held). Nothing for the embedded generator.
 */
export function asyncMetrics(batch: RolloutBatch, trainedVersion: number, waitMs: number): MetricRecord {
  const versions = batch.groups.flat().flatMap((r) => (r.policyVersion === undefined ? [] : [r.policyVersion]));
  if (!versions.length) return {};
  const stale = versions.map((v) => trainedVersion - v);
  return {
    'async/staleness_mean': mean(stale),
    'async/staleness_max': Math.max(...stale),
    'async/wait_ms': Math.round(waitMs),
  };
}
