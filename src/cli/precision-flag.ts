/** The `--precision` flag shared by the commands that run a model. */
import { checkPrecision, type PrecisionSetting } from '../model/weight-copies.ts';

export const PRECISION_HELP = 'matmul precision: f32 (exact), bf16 (BF16 copies of the weights feed the products), or auto (bf16 where this CPU has vector BF16: AVX2 / AVX-512)';

export const checkPrecisionFlag = (value: string): PrecisionSetting => checkPrecision(value, '--precision');
