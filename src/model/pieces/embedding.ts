/** Token embedding: rows of the table E [dim, vocab] gathered by token id. Backward: dy's rows added into dE. */
import type { Tensor } from '../../engine/tensor.ts';
import type { Tape } from '../tape.ts';

export function embedding(tape: Tape, table: Tensor, tokens: Tensor): Tensor {
  const o = tape.o;
  const x = o.getRows(table, tokens);
  tape.record(x, [], [table], () => {
    const dx = tape.grad(x);
    if (dx) tape.addParamGrad(table, o.getRowsBack(dx, tokens, table));
  });
  return x;
}
