/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), applied inside ggml with ggml_opt_step_adamw:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w·(1 − lr·wd) − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + ε)
 * (the same update as torch.optim.AdamW). Gradients accumulate in static tensors over any number of backward
 * passes (micro-batches) until `step()`, which clips them to a global L2 norm, skips the update when they are
 * not finite, and zeroes them.
 */
import { TensorStore } from './store.ts';
import { ComputeGraph } from './graph.ts';
import type { Tensor } from './tensor.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

/** elements squared at a time for the gradient norm (16 MB of f32) */
const NORM_SLICE = 1 << 22;

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** parameters exempt from weight decay; default: 1-D tensors (norm gains, biases), as HF Trainer does */
  noDecay?: (param: Tensor) => boolean;
}

export interface StepOptions {
  lr: number;
  /** clip the global gradient norm to this value (Infinity or undefined: no clipping) */
  maxGradNorm?: number;
}

export interface StepResult {
  /** global L2 norm of the accumulated gradient before clipping */
  gradNorm: number;
  /** true when the gradient was not finite and no update was made */
  skipped: boolean;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** number of updates applied so far (the t of bias correction) */
  stepCount = 0;
  private readonly store: TensorStore;
  /** gradients in a buffer of their own so zeroing them is one memset */
  private readonly gradStore: TensorStore;
  private readonly grads = new Map<Tensor, Tensor>();
  private readonly moments: { m: Tensor; v: Tensor }[] = [];
  private readonly hyperDecay: Tensor;
  private readonly hyperNoDecay: Tensor;
  private readonly clipScale: Tensor;
  private readonly normGraph: ComputeGraph;
  private readonly normOut: Tensor;
  private readonly stepGraph: ComputeGraph;

  constructor(backend: Backend, readonly params: Tensor[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) throw new GrpoError('config', 'AdamW betas must lie in [0, 1)');
    if (!(this.eps > 0) || !(this.weightDecay >= 0)) throw new GrpoError('config', 'AdamW eps must be > 0 and weightDecay ≥ 0');
    if (params.length === 0) throw new GrpoError('config', 'AdamW needs at least one parameter');
    const noDecay = opts.noDecay ?? ((p: Tensor) => p.ne[1] * p.ne[2] * p.ne[3] === 1);

    this.store = new TensorStore(params.length * 2 + 8, 'optimizer');
    this.gradStore = new TensorStore(params.length, 'gradients');
    params.forEach((p, i) => {
      if (p.dtype !== 'f32') throw new GrpoError('shape', `AdamW trains f32 parameters; ${p.describe()} is ${p.dtype}`);
      p.markParam();
      this.grads.set(p, this.gradStore.declare('f32', p.ne, `grad.${i}`));
      this.moments.push({ m: this.store.declare('f32', p.ne, `adam_m.${i}`), v: this.store.declare('f32', p.ne, `adam_v.${i}`) });
    });
    this.hyperDecay = this.store.declare('f32', [7], 'adamw_params');
    this.hyperNoDecay = this.store.declare('f32', [7], 'adamw_params_nodecay');
    this.clipScale = this.store.declare('f32', [1], 'clip_scale');
    this.store.allocate(backend);
    this.gradStore.allocate(backend);

    // Σ‖g‖² over all parameters, squared a slice at a time: the squares of a whole gradient would be a temporary
    // as large as the largest parameter (545 MB for Qwen2.5-0.5B's embedding), held by this graph for good
    const slices = [...this.grads.values()].flatMap((g) => Array.from({ length: Math.ceil(g.numel / NORM_SLICE) }, (_, k) => [g, k * NORM_SLICE] as const));
    this.normGraph = new ComputeGraph(backend, { maxNodes: slices.length * 4 + 8, externalTensors: params.length });
    const o = this.normGraph.ops;
    let total: Tensor | null = null;
    for (const [g, from] of slices) {
      const n = Math.min(NORM_SLICE, g.numel - from);
      const s = o.sum(o.sqr(o.view(g, [n, 1, 1, 1], [4 * n, 4 * n, 4 * n], 4 * from)));
      total = total ? o.add(total, s) : s;
    }
    this.normOut = this.normGraph.output(total!);
    this.normGraph.expand(this.normOut);
    this.normGraph.allocate();

    // clipped AdamW update of every parameter; the gradient is scaled in place (it is zeroed after the step anyway)
    this.stepGraph = new ComputeGraph(backend, { maxNodes: params.length * 3 + 8, externalTensors: 4 * params.length + 3 });
    const so = this.stepGraph.ops;
    params.forEach((p, i) => {
      const g = so.scaleInto(this.grads.get(p)!, this.clipScale);
      const hyper = noDecay(p) ? this.hyperNoDecay : this.hyperDecay;
      this.stepGraph.expand(so.adamwStep(p, g, this.moments[i].m, this.moments[i].v, hyper));
    });
    this.stepGraph.allocate();
  }

  /** The static accumulator that backward passes add this parameter's gradient into. */
  gradOf(param: Tensor): Tensor {
    const g = this.grads.get(param);
    if (!g) throw new GrpoError('engine', `${param.describe()} is not optimised by this AdamW`);
    return g;
  }

  get gradAccumulators(): Map<Tensor, Tensor> {
    return this.grads;
  }

  /** Global L2 norm of the accumulated gradients. */
  gradNorm(): number {
    this.normGraph.compute();
    return Math.sqrt(this.normOut.readScalar());
  }

  zeroGrad(): void {
    this.gradStore.zero();
  }

  step(opts: StepOptions): StepResult {
    if (!(opts.lr >= 0)) throw new GrpoError('config', `learning rate must be ≥ 0, got ${opts.lr}`);
    const gradNorm = this.gradNorm();
    if (!Number.isFinite(gradNorm)) {
      this.zeroGrad();
      return { gradNorm, skipped: true };
    }
    const max = opts.maxGradNorm ?? Infinity;
    // torch.nn.utils.clip_grad_norm_: scale by max/(norm + 1e-6) when the norm exceeds max
    const scale = gradNorm > max ? max / (gradNorm + 1e-6) : 1;
    this.clipScale.write(new Float32Array([scale]));
    const t = this.stepCount + 1;
    const common = [opts.lr, this.beta1, this.beta2, this.eps];
    const bias = [1 / (1 - this.beta1 ** t), 1 / (1 - this.beta2 ** t)];
    this.hyperDecay.write(new Float32Array([...common, this.weightDecay, ...bias]));
    this.hyperNoDecay.write(new Float32Array([...common, 0, ...bias]));
    this.stepGraph.compute();
    this.stepCount = t;
    this.zeroGrad();
    return { gradNorm, skipped: false };
  }

  /**
   * The moment tensors by checkpoint name (`m.<i>`, `v.<i>`, in parameter order), so a checkpoint streams them to
   * disk and back one at a time; `stepCount` completes the state.
   */
  momentTensors(): [string, Tensor][] {
    return this.moments.flatMap((x, i): [string, Tensor][] => [[`m.${i}`, x.m], [`v.${i}`, x.v]]);
  }

  /** Moments and step count as host arrays (small optimizers; checkpoints stream momentTensors). */
  exportState(): { step: number; m: Float32Array[]; v: Float32Array[] } {
    return { step: this.stepCount, m: this.moments.map((x) => x.m.readF32()), v: this.moments.map((x) => x.v.readF32()) };
  }

  importState(s: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (s.m.length !== this.moments.length || s.v.length !== this.moments.length) {
      throw new GrpoError('checkpoint', `optimizer state has ${s.m.length} moment tensors, this model has ${this.moments.length}`);
    }
    this.moments.forEach((x, i) => { x.m.write(s.m[i]); x.v.write(s.v[i]); });
    this.stepCount = s.step;
  }

  /** bytes the norm and step graphs hold besides the parameters, gradients and moments */
  get graphBytes(): number {
    return this.normGraph.allocatedBytes + this.stepGraph.allocatedBytes;
  }

  free(): void {
    this.normGraph.free();
    this.stepGraph.free();
    this.store.free();
    this.gradStore.free();
  }
}
