import { GrpoError } from '../errors.ts';
import { checkSameShape, type Ragged } from './ragged.ts';
import { whiten, type StdKind } from './stats.ts';

export interface GaeOptions {
  gamma: number;
  lambda: number;
}

/**
 * Generalised Advantage Estimation for one completion (OpenRLHF get_advantages_and_returns, ORZ, verl):
 * δ_t = r_t + γ·V_{t+1} − V_t with V_T = 0, A_t = δ_t + γλ·A_{t+1}, returns R_t = A_t + V_t.
 * With γ = λ = 1 (ORZ) A_t = Σ_{s≥t} r_s − V_t.
 */
export function gae(
  rewards: number[],
  values: number[],
  opts: GaeOptions,
): { advantages: number[]; returns: number[] } {
  if (rewards.length !== values.length) {
    throw new GrpoError(
      'shape',
      `gae: ${rewards.length} rewards but ${values.length} values; give one value per completion token`,
    );
  }
  const { gamma, lambda } = opts;
  const advantages = new Array<number>(rewards.length);
  let nextValue = 0;
  let lastGaeLam = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    const delta = rewards[t] + gamma * nextValue - values[t];
    lastGaeLam = delta + gamma * lambda * lastGaeLam;
    advantages[t] = lastGaeLam;
    nextValue = values[t];
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]) };
}

export interface GaeBatchOptions extends GaeOptions {
  /**
   * Whiten the advantages over every token of the batch. Default 'sample' (verl masked_whiten: sample variance,
   * eps 1e-8 inside the sqrt); 'population' as ORZ normalize_advantages (population variance floored at 1e-8); false
   * to keep them raw.
   * Returns are always computed from the raw advantages.
   */
  whiten?: StdKind | false;
  eps?: number;
}

/** GAE over a ragged batch (one inner array per completion), optionally whitened over all tokens. */
export function gaeBatch(
  rewards: Ragged,
  values: Ragged,
  opts: GaeBatchOptions,
): { advantages: Ragged; returns: Ragged } {
  checkSameShape('values', values, 'rewards', rewards);
  const per = rewards.map((r, i) => gae(r, values[i], opts));
  const returns = per.map((p) => p.returns);
  const raw = per.map((p) => p.advantages);
  const kind = opts.whiten ?? 'sample';
  if (kind === false) return { advantages: raw, returns };
  // population std: ORZ's form, rsqrt(max(var, 1e-8)); sample std: verl's, 1/sqrt(var + 1e-8)
  const flat = whiten(raw.flat(), { eps: opts.eps ?? 1e-8, std: kind, floor: kind === 'population' });
  let k = 0;
  return { advantages: raw.map((a) => a.map(() => flat[k++])), returns };
}
