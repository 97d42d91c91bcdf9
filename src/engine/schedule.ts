/**
 * Learning-rate schedules, as in Hugging Face transformers' `get_*_schedule_with_warmup`: linear warm-up from 0
 * over `warmupSteps` (lr·step/warmup, so step 0 has lr 0 exactly as HF), then constant, linear decay to `minRatio`·lr, or cosine decay to `minRatio`·lr at `totalSteps`.
 * `step` counts optimizer steps from 0.
 */
import { GrpoError } from '../errors.ts';

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  kind: ScheduleKind;
  lr: number;
  warmupSteps?: number;
  /** needed by linear and cosine decay */
  totalSteps?: number;
  /** floor as a fraction of lr (default 0) */
  minRatio?: number;
}

export function learningRateAt(step: number, s: LrSchedule): number {
  const warm = s.warmupSteps ?? 0;
  const floor = s.minRatio ?? 0;
  if (!(s.lr >= 0)) throw new GrpoError('config', `learning rate must be ≥ 0, got ${s.lr}`);
  if (warm < 0 || floor < 0 || floor > 1)
    throw new GrpoError('config', 'warmupSteps must be ≥ 0 and minRatio in [0, 1]');
  if (step < warm) return (s.lr * step) / warm;
  if (s.kind === 'constant') return s.lr;
  const total = s.totalSteps;
  if (!total || total <= warm)
    throw new GrpoError('config', `a ${s.kind} schedule needs totalSteps greater than warmupSteps (${warm})`);
  const progress = Math.min(1, (step - warm) / (total - warm));
  const shape = s.kind === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return s.lr * (floor + (1 - floor) * shape);
}
