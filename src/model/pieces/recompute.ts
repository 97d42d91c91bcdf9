/**
 * Gradient checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"): the forward runs the
 * piece without recording, so its activations are freed as soon as the forward moves on, and keeps only its
 * input; the backward rebuilds the piece's forward from that input, in the backward part of the graph, and plays
 * its backward there. One extra forward of the piece buys the memory of all its activations; used per transformer
 * layer, activation memory drops from O(layers) to O(1) layers.
 */
import type { Tensor } from '../../engine/tensor.ts';
import { Tape } from '../tape.ts';

export function recomputed(tape: Tape, x: Tensor, weights: Tensor[], build: (t: Tape, x: Tensor) => Tensor): Tensor {
  const y = build(new Tape(tape.graph), x);
  tape.record(y, [x], weights, () => {
    const dy = tape.grad(y);
    if (!dy) return;
    const sub = tape.child([x]);
    const again = build(sub, x);
    sub.seed(again, dy);
    sub.backward();
    const dx = sub.grad(x);
    if (!dx) return;
    // in the graph now, so this layer's recomputed activations are dead before the layer below is rebuilt
    tape.graph.expand(dx);
    tape.addGrad(x, dx);
  });
  return y;
}
