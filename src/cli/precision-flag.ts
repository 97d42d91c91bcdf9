/** The `--precision` flag shared by the commands that run a model. */
import { checkPrecision, type Precision } from '../model/weight-copies.ts';

export const PRECISION_HELP = 'matmul precision: f32, or bf16 (BF16 copies of the weights feed the products; faster where the CPU has AVX-512 BF16)';

export const checkPrecisionFlag = (value: string): Precision => checkPrecision(value, '--precision');
