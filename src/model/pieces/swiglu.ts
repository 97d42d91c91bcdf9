/**
 * SwiGLU gating (Shazeer 2020): a = silu(gate) ⊙ up.
 * Backward: d_up = da ⊙ silu(gate), d_gate = silu'(gate) ⊙ (da ⊙ up).
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';

export function swiglu(tape: Tape, gate: Tensor, up: Tensor): Tensor {
  const o = tape.o;
  const s = o.silu(gate);
  const a = o.mul(s, up);
  tape.record(a, [gate, up], [], () => {
    const da = tape.grad(a);
    if (!da) return;
    if (tape.needs(up)) tape.addGrad(up, o.mul(da, s));
    if (tape.needs(gate)) tape.addGrad(gate, o.siluBack(o.mul(da, up), gate));
  });
  return a;
}
