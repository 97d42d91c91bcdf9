/**
 * Reverse-mode bookkeeping for the hand-written backward, the llm.c way: every forward piece in model/pieces/
 * builds its forward ops and records, next to them, a closure that builds its backward ops. Playing the tape
 * back in reverse adds each activation's gradient where its consumers put it and each parameter's gradient
 * into the optimizer's accumulator. No ggml autodiff: every matmul gradient is a mul_mat (ggml's autodiff turns
 * them into out_prod, its slowest kernel).
 *
 * Gradients are only built where they are needed: a frozen weight gets none, and an activation that nothing
 * trainable lies under (the input of the first trainable piece) gets none either.
 * A tape made without parameter gradients records nothing: the same pieces then build forward-only graphs
 * (scoring, KV-cache decoding).
 */
import type { ComputeGraph } from '../engine/graph.ts';
import type { Ops } from '../engine/ops.ts';
import type { Tensor } from '../engine/tensor.ts';

export interface ParamGradients {
  /** w gets a gradient (frozen weights get none computed at all) */
  wants(w: Tensor): boolean;
  /** add dw into w's gradient, or into its columns [fromColumn, fromColumn + dw.ne[1]) */
  add(w: Tensor, dw: Tensor, fromColumn?: number): void;
}

export class Tape {
  readonly o: Ops;
  private readonly steps: (() => void)[] = [];
  private readonly grads = new Map<bigint, Tensor>();
  /** activations whose gradient something trainable needs */
  private readonly needed = new Set<bigint>();

  constructor(
    readonly graph: ComputeGraph,
    private readonly params: ParamGradients | null = null,
  ) {
    this.o = graph.ops;
  }

  get recording(): boolean {
    return this.params !== null;
  }

  /** w is trained by this tape's backward */
  wants(w: Tensor): boolean {
    return this.params?.wants(w) ?? false;
  }

  /** the gradient of activation t is needed (something trainable lies under it) */
  needs(t: Tensor): boolean {
    return this.needed.has(t.ptr);
  }

  /**
   * Called by a piece's forward with its output, inputs and weights: when any input needs a gradient or any weight
   * is trained, the output needs one too and `backward` is recorded, to run when the tape is played back.
   */
  record(
    output: Tensor | Tensor[],
    inputs: (Tensor | undefined)[],
    weights: (Tensor | undefined)[],
    backward: () => void,
  ): void {
    if (!this.params) return;
    const live = inputs.some((t) => t && this.needs(t)) || weights.some((w) => w && this.wants(w));
    if (!live) return;
    for (const t of Array.isArray(output) ? output : [output]) this.needed.add(t.ptr);
    this.steps.push(backward);
  }

  /** Add g into the gradient of activation t (ignored when t needs none). */
  addGrad(t: Tensor, g: Tensor): void {
    if (!this.needs(t)) return;
    const prev = this.grads.get(t.ptr);
    this.grads.set(t.ptr, prev ? this.o.add(prev, g) : g);
  }

  /** The gradient accumulated into t so far; null when nothing downstream gave it one. */
  grad(t: Tensor): Tensor | null {
    return this.grads.get(t.ptr) ?? null;
  }

  /** Add dw into the gradient of weight w, or of its columns from `fromColumn` (only for weights it wants). */
  addParamGrad(w: Tensor, dw: Tensor, fromColumn?: number): void {
    this.params!.add(w, dw, fromColumn);
  }

  /** Seed an output's gradient (the per-token coefficients of DESIGN.md's seam). */
  seed(output: Tensor, g: Tensor): void {
    this.addGrad(output, g);
  }

  /**
   * A fresh recording tape with the same parameter gradients, on which `inputs` need gradients where they do here:
   * a recomputed piece of the forward (gradient checkpointing) records its backward on it.
   */
  child(inputs: Tensor[]): Tape {
    const t = new Tape(this.graph, this.params);
    for (const x of inputs) if (this.needs(x)) t.needed.add(x.ptr);
    return t;
  }

  /** Build every recorded backward, last piece first. */
  backward(): void {
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
    this.steps.length = 0;
  }
}
