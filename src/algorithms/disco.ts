import { GrpoError } from '../errors.ts';
import { checkMask, checkLength, checkSameShape, groupSlices, type LossResult, type Ragged } from './ragged.ts';

/**
 * DisCO (Discriminative Constrained Optimization; docs/methods/disco.md; Optimization-AI/DisCO core_algos.py,
 * verl PR 8a37e8459ec compute_policy_loss_disco). Per question with both correct and wrong answers:
 *   J_q = mean_{i∈pos} s_i − τ·log mean_{j∈neg} exp(s_j/τ)
 *   loss = −Σ_q J_q / Q + (β/2)·[KL − δ]₊²
 * with s_i the completion's score and KL the token-mean KL(π_old‖π). The references write the log-mean-exp as
 * Σexp/sg(Σexp) and the penalty as sg(β[KL−δ]₊)·KL: same gradients; here the values are the true objective.
 */
export interface DiscoInput {
  logp: Ragged;
  oldLogp: Ragged;
  /** Binary rewards, one per completion (1 correct, 0 wrong), laid out prompt by prompt. */
  rewards: number[];
  groupSize: number | readonly number[];
  /** 'logL': s = mean_t lp; 'Lratio': s = mean_t exp(lp − old). Default 'logL'. */
  score?: 'logL' | 'Lratio';
  /** Default 10 for logL, 1 for Lratio (verl docs/algo/disco.md). */
  tau?: number;
  /** KL budget δ, default 1e-4. */
  delta?: number;
  /** Penalty weight β, default 1e3. */
  beta?: number;
  /**
   * KL(π_old‖π) estimator for the constraint. Default 'k1' = mean(old − lp) (verl PR); 'k3' = mean(e^{lp−old} − (lp−old) − 1)
   * (Optimization-AI/DisCO kl_type='low_var_kl').
   */
  klKind?: 'k1' | 'k3';
  /** Rewards are binary by default; with a threshold, reward > threshold counts as correct. */
  positiveThreshold?: number;
  /** 0/1 per token; masked tokens leave the scores and the KL. */
  mask?: Ragged;
  /** Q, the question count dividing Σ J_q: default the groups in this call (dropped groups included, as the reference). */
  numQuestions?: number;
}

/** Which completions are correct: reward > positiveThreshold, or else rewards that must be exactly 0 or 1. */
function correctCompletions(rewards: number[], positiveThreshold: number | undefined): boolean[] {
  return rewards.map((r, i) => {
    if (positiveThreshold !== undefined) return r > positiveThreshold;
    if (r !== 0 && r !== 1) {
      throw new GrpoError(
        'value',
        `DisCO needs binary rewards but rewards[${i}] is ${r}; pass positiveThreshold to binarise them`,
      );
    }
    return r === 1;
  });
}

type TokenWeight = (i: number, t: number) => number;

/** Scores s_i and ds_i/dlp_t (divided by the count of counted tokens L_i). */
function completionScores(
  logp: Ragged,
  oldLogp: Ragged,
  m: TokenWeight,
  scoreKind: 'logL' | 'Lratio',
): { scores: number[]; dScore: Ragged } {
  const scores = new Array<number>(logp.length).fill(0);
  const counts = logp.map((s, i) => s.reduce((a, _x, t) => a + m(i, t), 0));
  const dScore: Ragged = logp.map((s, i) =>
    s.map((lp, t) => {
      if (m(i, t) === 0 || counts[i] === 0) return 0;
      const term = scoreKind === 'logL' ? lp : Math.exp(lp - oldLogp[i][t]);
      scores[i] += term / counts[i];
      return (scoreKind === 'logL' ? 1 : term) / counts[i];
    }),
  );
  return { scores, dScore };
}

/**
 * Σ_q J_q over the groups with both correct and wrong answers (`validGroups` of them), and dLoss/ds_i of
 * −Σ_q J_q / numQuestions.
 */
function discriminativeObjective(
  scores: number[],
  isPositive: boolean[],
  slices: [number, number][],
  tau: number,
  numQuestions: number,
): { objective: number; dLossdScore: number[]; validGroups: number } {
  const dLossdScore = new Array<number>(scores.length).fill(0);
  let objective = 0;
  let validGroups = 0;
  for (const [s, e] of slices) {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let i = s; i < e; i++) (isPositive[i] ? pos : neg).push(i);
    if (pos.length === 0 || neg.length === 0) continue; // all right or all wrong: no contrast, dropped
    validGroups++;
    const posMean = pos.reduce((a, i) => a + scores[i], 0) / pos.length;
    const maxNeg = Math.max(...neg.map((j) => scores[j] / tau));
    const expNeg = neg.map((j) => Math.exp(scores[j] / tau - maxNeg));
    const sumExp = expNeg.reduce((a, b) => a + b, 0);
    const logMeanExp = maxNeg + Math.log(sumExp / neg.length);
    objective += posMean - tau * logMeanExp;
    for (const i of pos) dLossdScore[i] = -1 / pos.length / numQuestions;
    neg.forEach((j, k) => (dLossdScore[j] = expNeg[k] / sumExp / numQuestions)); // d(τ·logmeanexp(s/τ))/ds_j = softmax_j
  }
  return { objective, dLossdScore, validGroups };
}

/** The token-mean KL(π_old‖π) over the counted tokens of the whole call, with the estimator `klKind`. */
function tokenMeanKl(logp: Ragged, oldLogp: Ragged, m: TokenWeight, klKind: 'k1' | 'k3') {
  let klSum = 0;
  let tokens = 0;
  logp.forEach((s, i) =>
    s.forEach((lp, t) => {
      if (m(i, t) === 0) return;
      const d = lp - oldLogp[i][t];
      klSum += klKind === 'k1' ? -d : Math.exp(d) - d - 1;
      tokens++;
    }),
  );
  return { kl: tokens > 0 ? klSum / tokens : 0, tokens };
}

export function discoLoss(input: DiscoInput): LossResult {
  const { logp, oldLogp, rewards } = input;
  checkSameShape('oldLogp', oldLogp, 'logp', logp);
  checkLength('rewards', rewards, logp.length, 'one reward per completion');
  if (input.mask) checkSameShape('mask', input.mask, 'logp', logp);
  if (input.mask) checkMask(input.mask);
  const scoreKind = input.score ?? 'logL';
  if (scoreKind !== 'logL' && scoreKind !== 'Lratio') {
    throw new GrpoError('config', `unknown DisCO score '${scoreKind as string}'; use logL or Lratio`);
  }
  const tau = input.tau ?? (scoreKind === 'logL' ? 10 : 1);
  const delta = input.delta ?? 1e-4;
  const beta = input.beta ?? 1e3;
  const klKind = input.klKind ?? 'k1';
  const m = (i: number, t: number): number => (input.mask ? input.mask[i][t] : 1);
  const isPositive = correctCompletions(rewards, input.positiveThreshold);
  const { scores, dScore } = completionScores(logp, oldLogp, m, scoreKind);
  const slices = groupSlices(logp.length, input.groupSize);
  const numQuestions = input.numQuestions ?? slices.length;
  const { objective, dLossdScore, validGroups } = discriminativeObjective(
    scores,
    isPositive,
    slices,
    tau,
    numQuestions,
  );

  // Trust-region penalty on the token-mean KL of the whole call.
  const { kl, tokens } = tokenMeanKl(logp, oldLogp, m, klKind);
  const excess = Math.max(kl - delta, 0);
  const loss = -objective / numQuestions + 0.5 * beta * excess * excess;

  const dlogp: Ragged = logp.map((s, i) =>
    s.map((lp, t) => {
      if (m(i, t) === 0) return 0;
      const d = lp - oldLogp[i][t];
      const dKl = (klKind === 'k1' ? -1 : Math.exp(d) - 1) / tokens;
      return dLossdScore[i] * dScore[i][t] + beta * excess * dKl;
    }),
  );
  return { loss, dlogp, stats: { kl, constraint_active: excess > 0 ? 1 : 0, valid_groups: validGroups } };
}
