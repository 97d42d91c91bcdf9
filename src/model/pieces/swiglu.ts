/**
 * SwiGLU gating (Shazeer 2020): a = silu(gate) ⊙ up, one fused op.
 * Backward: d_up = da ⊙ silu(gate), d_gate = silu'(gate) ⊙ (da ⊙ up). silu(gate) is recomputed there rather than
 * kept from the forward: one cheap pass instead of an [ffn × tokens] activation held per layer.
 */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';

export function swiglu(tape: Tape, gate: Tensor, up: Tensor): Tensor {
  const o = tape.o;
  const a = o.swiglu(gate, up);
  tape.record(a, [gate, up], [], () => {
    const da = tape.grad(a);
    if (!da) return;
    if (tape.needs(up)) tape.addGrad(up, o.mul(da, o.silu(gate)));
    if (tape.needs(gate)) tape.addGrad(gate, o.siluBack(o.mul(da, up), gate));
  });
  return a;
}
