import { GrpoError } from '../errors.ts';
import { aggregationWeights, type AggregationMode, type AggregationNormalizer } from './aggregation.ts';
import { checkSameShape, lengthsOf, type Ragged } from './ragged.ts';

/**
 * Clipped PPO critic loss (docs/methods/ppo.md; verl compute_value_loss, OpenRLHF ValueLoss, ORZ ValueLoss):
 *   v_clip = old + clamp(v − old, −c, c)
 *   loss   = ½·agg( max((v − R)², (v_clip − R)²) )
 */
export interface ValueLossInput {
  values: Ragged;
  oldValues: Ragged;
  returns: Ragged;
  /** Value clip c (ORZ 0.2); omitted → unclipped ½·agg((v − R)²). */
  clipRange?: number;
  /** Default 'token-mean' (verl). */
  aggregation?: AggregationMode;
  maxLength?: number;
  normalizer?: AggregationNormalizer;
  mask?: Ragged;
}

export function valueLoss(input: ValueLossInput): { loss: number; dvalues: Ragged; stats: Record<string, number> } {
  const { values, oldValues, returns } = input;
  checkSameShape('oldValues', oldValues, 'values', values);
  checkSameShape('returns', returns, 'values', values);
  const c = input.clipRange;
  if (c !== undefined && !(c >= 0)) throw new GrpoError('config', `value clipRange must be ≥ 0, got ${c}`);
  const coef = aggregationWeights(input.aggregation ?? 'token-mean', lengthsOf(values), input);
  let loss = 0;
  let counted = 0;
  let clipped = 0;
  const dvalues = values.map((s, i) =>
    s.map((v, t) => {
      const k = coef[i][t];
      if (input.mask && input.mask[i][t] === 0) return 0;
      const R = returns[i][t];
      const old = oldValues[i][t];
      const unclipped = (v - R) * (v - R);
      let term = unclipped;
      let grad = v - R; // d ½(v − R)² / dv
      if (c !== undefined) {
        const vClip = Math.min(Math.max(v, old - c), old + c);
        const clippedSq = (vClip - R) * (vClip - R);
        counted++;
        if (clippedSq > unclipped) {
          clipped++;
          term = clippedSq;
          grad = 0; // only possible outside [old − c, old + c], where v_clip does not depend on v
        }
      }
      loss += k * 0.5 * term;
      return k * grad;
    }),
  );
  return { loss, dvalues, stats: { value_clip_ratio: counted > 0 ? clipped / counted : 0 } };
}
