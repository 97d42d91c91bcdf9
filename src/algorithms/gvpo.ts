import { GrpoError } from '../errors.ts';
import {
  checkMask,
  broadcastToTokens,
  checkSameShape,
  groupSlices,
  lengthsOf,
  type LossResult,
  type Ragged,
} from './ragged.ts';

/**
 * GVPO (docs/methods/gvpo.md; jszkc/GVPO README compute_policy_loss_gvpo): an MSE between the group-centred implicit
 * reward and the group-centred reward,
 *   R_θ(i) = β·Σ_t (lp − old)      (a sum, not a mean)
 *   loss   = Σ_i ½·[(R_θ(i) − mean_g(sg R_θ)) − adv_i]² / (n − 1)
 * No ratio and no clipping. The group mean of R_θ is a stop-gradient, as in the reference.
 */
export interface GvpoInput {
  logp: Ragged;
  oldLogp: Ragged;
  /**
   * Group-centred rewards r_i − mean_g(r) (groupAdvantages with estimator 'dr_grpo'), one per completion or per
   * token; per-token values are averaged over the completion's counted tokens, as the reference does.
   */
  advantages: Ragged | number[];
  groupSize: number | readonly number[];
  /** Default 0.1 (gvpo_beta). */
  beta?: number;
  /** 0/1 per token; masked tokens leave R_θ. */
  mask?: Ragged;
  /** Values of logp inside the stop-gradient group mean; defaults to logp. */
  logpDetached?: Ragged;
}

export function gvpoLoss(input: GvpoInput): LossResult {
  const { logp, oldLogp } = input;
  checkSameShape('oldLogp', oldLogp, 'logp', logp);
  const detached = input.logpDetached ?? logp;
  checkSameShape('logpDetached', detached, 'logp', logp);
  if (input.mask) checkSameShape('mask', input.mask, 'logp', logp);
  if (input.mask) checkMask(input.mask);
  const beta = input.beta ?? 0.1;
  const m = (i: number, t: number): number => (input.mask ? input.mask[i][t] : 1);
  const lengths = lengthsOf(logp);
  const advTokens = broadcastToTokens(input.advantages, lengths, 'advantages');
  const adv = advTokens.map((a, i) => {
    let sum = 0;
    let n = 0;
    a.forEach((x, t) => {
      if (m(i, t) === 1) {
        sum += x;
        n++;
      }
    });
    return n > 0 ? sum / n : 0;
  });
  const implicitReward = (lp: Ragged, i: number): number =>
    beta * lp[i].reduce((acc, x, t) => acc + m(i, t) * (x - oldLogp[i][t]), 0);
  const r = logp.map((_s, i) => implicitReward(logp, i));
  const rDetached = logp.map((_s, i) => implicitReward(detached, i));

  let loss = 0;
  let implicitSpread = 0;
  const residual = new Array<number>(logp.length).fill(0);
  for (const [s, e] of groupSlices(logp.length, input.groupSize)) {
    const n = e - s;
    if (n < 2)
      throw new GrpoError('shape', 'GVPO divides by (groupSize − 1): every group needs at least 2 completions');
    let groupMean = 0;
    for (let i = s; i < e; i++) groupMean += rDetached[i] / n;
    for (let i = s; i < e; i++) {
      implicitSpread += Math.abs(r[i] - groupMean) / logp.length;
      const diff = r[i] - groupMean - adv[i];
      loss += (0.5 * diff * diff) / (n - 1);
      residual[i] = diff / (n - 1);
    }
  }
  // dR_θ(i)/dlp_t = β on every counted token
  const dlogp = logp.map((s, i) => s.map((_x, t) => residual[i] * beta * m(i, t)));
  // mean |R_θ − mean_g R_θ|: 0 while the policy is the behaviour policy, so it shows the implicit-reward term acting
  return { loss, dlogp, stats: { implicit_reward: implicitSpread } };
}
