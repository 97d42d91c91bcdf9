/**
 * RMSNorm with a gain (Zhang & Sennrich 2019), over rows of ne0: y = x / sqrt(mean(x²) + ε) ⊙ g.
 * Backward: dg = Σ_rows dy ⊙ n (n the normalised x), dx = rms_norm_back(dy ⊙ g, x).
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';

export function rmsNorm(tape: Tape, x: Tensor, gain: Tensor, eps: number): Tensor {
  const o = tape.o;
  const n = o.rmsNorm(x, eps);
  const y = o.mul(n, gain);
  tape.record(y, [x], [gain], () => {
    const dy = tape.grad(y);
    if (!dy) return;
    if (tape.wants(gain)) tape.addParamGrad(gain, o.sumTo(o.mul(dy, n), gain));
    if (tape.needs(x)) tape.addGrad(x, o.rmsNormBack(o.mul(dy, gain), x, eps));
  });
  return y;
}
