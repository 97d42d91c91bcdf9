/**
 * LoRA dropout of a training graph (PEFT's train mode): one mask input per adapted product, shaped like the
 * adapter's input and redrawn for every forward. Inverted dropout: a kept entry is 1/(1 − p), so the adapter's
 * expected output is unchanged.
 */
import type { ComputeGraph } from '../engine/graph.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { DropoutMask } from './pieces/projection.ts';
import type { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export class LoraDropout {
  private readonly masks: Tensor[] = [];
  /** the projections' mask hook: a new mask input per call (null when the rate is 0) */
  readonly mask: DropoutMask | null;

  constructor(
    g: ComputeGraph,
    readonly rate: number,
  ) {
    this.mask =
      rate > 0
        ? (x: Tensor) => this.masks[this.masks.push(g.input('f32', [...x.ne], `lora_dropout_${this.masks.length}`)) - 1]
        : null;
  }

  /** Draw every mask from `rng` (needed when the graph has masks). */
  write(rng?: Rng): void {
    if (this.masks.length && !rng) throw new GrpoError('engine', 'this graph has LoRA dropout: pass the dropout RNG');
    const keep = 1 / (1 - this.rate);
    for (const m of this.masks)
      m.write(Float32Array.from({ length: m.numel }, () => (rng!.next() < this.rate ? 0 : keep)));
  }
}
