/** Pieces that only move gradients: the residual sum, reshapes, gathers of columns, and the rotary embedding (a rotation). */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';
import type { LlamaConfig } from '../config.ts';

/** a + b (same shapes): the gradient reaches both unchanged. */
export function residual(tape: Tape, a: Tensor, b: Tensor): Tensor {
  const y = tape.o.add(a, b);
  tape.record(y, [a, b], [], () => {
    const dy = tape.grad(y);
    if (!dy) return;
    tape.addGrad(a, dy);
    tape.addGrad(b, dy);
  });
  return y;
}

export function reshape(tape: Tape, x: Tensor, ne: number[]): Tensor {
  const o = tape.o;
  const y = o.reshape(x, ne);
  tape.record(y, [x], [], () => {
    const dy = tape.grad(y);
    if (dy) tape.addGrad(x, o.reshape(dy.isContiguous ? dy : o.cont(dy), [...x.ne]));
  });
  return y;
}

/** RoPE (Su et al. 2021), NeoX half rotation as Hugging Face, over x [headDim, heads, N]; its backward rotates back. */
export function rope(tape: Tape, x: Tensor, positions: Tensor, c: LlamaConfig): Tensor {
  const o = tape.o;
  const y = o.rope(x, positions, c.headDim, c.ropeTheta);
  tape.record(y, [x], [], () => {
    const dy = tape.grad(y);
    if (dy) tape.addGrad(x, o.ropeBack(dy.isContiguous ? dy : o.cont(dy), positions, c.headDim, c.ropeTheta));
  });
  return y;
}

/** Columns of x [E, N] picked by i32 indices [n] → [E, n]; backward: each column's gradient added back where it came from. */
export function gatherColumns(tape: Tape, x: Tensor, index: Tensor): Tensor {
  const o = tape.o;
  const y = o.getRows(x, index);
  tape.record(y, [x], [], () => {
    const dy = tape.grad(y);
    if (dy) tape.addGrad(x, o.getRowsBack(dy.isContiguous ? dy : o.cont(dy), index, x));
  });
  return y;
}
