/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), applied inside ggml with ggml_opt_step_adamw:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w·(1 − lr·wd) − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + ε)
 * (the same update as torch.optim.AdamW). Gradients accumulate in static tensors over any number of backward
 * passes (micro-batches) until `step()`, which clips them to a global L2 norm, skips the update when they are
 * not finite, and zeroes them.
 *
 * Parameters come in groups, as torch.optim's param_groups: each group has its own learning rate per step, its own
 * step count t, its own gradient-norm clipping and can be stepped alone — the policy and the PPO critic of
 * Open-Reasoner-Zero are separate DeepSpeed engines, each clipping its own gradient (max_norm) and counting its own
 * steps, which one optimizer with two groups reproduces.
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

/** A named set of parameters stepped together (torch.optim param_groups). */
export interface ParamGroup {
  name: string;
  params: Tensor[];
}

export interface StepOptions {
  /** learning rate of every group stepped, or one per group name (every stepped group needs one) */
  lr: number | Record<string, number>;
  /** clip each stepped group's gradient to this L2 norm (Infinity or undefined: no clipping) */
  maxGradNorm?: number;
  /** the groups to update (default: all); the others keep their gradients, moments and step counts */
  groups?: string[];
}

export interface StepResult {
  /** L2 norm of the accumulated gradient of the stepped groups together, before clipping */
  gradNorm: number;
  /** each stepped group's own norm before clipping */
  groupNorms: Record<string, number>;
  /** true when the gradient was not finite and no update was made */
  skipped: boolean;
}

/** The tensors and graphs of one group. */
class Group {
  /** number of updates applied so far (the t of bias correction) */
  stepCount = 0;
  /** gradients in a buffer of their own so zeroing them is one memset */
  readonly gradStore: TensorStore;
  readonly grads = new Map<Tensor, Tensor>();
  readonly moments: { m: Tensor; v: Tensor }[] = [];
  readonly hyperDecay: Tensor;
  readonly hyperNoDecay: Tensor;
  readonly clipScale: Tensor;
  private normGraph!: ComputeGraph;
  private normOut!: Tensor;
  stepGraph!: ComputeGraph;

  /** declares the group's moments and hyper-parameters in `store` (the optimizer's, allocated once for all groups) */
  constructor(
    backend: Backend,
    store: TensorStore,
    readonly name: string,
    readonly params: Tensor[],
    first: number,
  ) {
    this.gradStore = new TensorStore(params.length, `gradients.${name}`);
    params.forEach((p, k) => {
      const i = first + k;
      if (p.dtype !== 'f32') throw new GrpoError('shape', `AdamW trains f32 parameters; ${p.describe()} is ${p.dtype}`);
      p.markParam();
      this.grads.set(p, this.gradStore.declare('f32', p.ne, `grad.${i}`));
      this.moments.push({ m: store.declare('f32', p.ne, `adam_m.${i}`), v: store.declare('f32', p.ne, `adam_v.${i}`) });
    });
    this.hyperDecay = store.declare('f32', [7], `adamw_params.${name}`);
    this.hyperNoDecay = store.declare('f32', [7], `adamw_params_nodecay.${name}`);
    this.clipScale = store.declare('f32', [1], `clip_scale.${name}`);
    this.gradStore.allocate(backend);
  }

  /** the norm and step graphs, once `store` is allocated */
  build(backend: Backend, noDecay: (p: Tensor) => boolean): void {
    // Σ‖g‖² over the group, squared a slice at a time: the squares of a whole gradient would be a temporary
    // as large as the largest parameter (545 MB for Qwen2.5-0.5B's embedding), held by this graph for good
    const params = this.params;
    const slices = [...this.grads.values()].flatMap((g) =>
      Array.from({ length: Math.ceil(g.numel / NORM_SLICE) }, (_, k) => [g, k * NORM_SLICE] as const),
    );
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
    this.stepGraph = new ComputeGraph(backend, {
      maxNodes: params.length * 3 + 8,
      externalTensors: 4 * params.length + 3,
    });
    const so = this.stepGraph.ops;
    params.forEach((p, k) => {
      const g = so.scaleInto(this.grads.get(p)!, this.clipScale);
      this.stepGraph.expand(
        so.adamwStep(p, g, this.moments[k].m, this.moments[k].v, noDecay(p) ? this.hyperNoDecay : this.hyperDecay),
      );
    });
    this.stepGraph.allocate();
  }

  sumOfSquares(): number {
    this.normGraph.compute();
    return this.normOut.readScalar();
  }

  get graphBytes(): number {
    return this.normGraph.allocatedBytes + this.stepGraph.allocatedBytes;
  }

  free(): void {
    this.normGraph.free();
    this.stepGraph.free();
    this.gradStore.free();
  }
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** every parameter, group after group */
  readonly params: Tensor[];
  private readonly store: TensorStore;
  private readonly groupList: Group[];
  private readonly grads = new Map<Tensor, Tensor>();
  private readonly groupOf = new Map<Tensor, Group>();

  /** `params`: one group named 'default', or named groups (torch.optim param_groups) */
  constructor(backend: Backend, params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1))
      throw new GrpoError('config', 'AdamW betas must lie in [0, 1)');
    if (!(this.eps > 0) || !(this.weightDecay >= 0))
      throw new GrpoError('config', 'AdamW eps must be > 0 and weightDecay ≥ 0');
    const specs: ParamGroup[] =
      params.length > 0 && 'params' in params[0]
        ? (params as ParamGroup[])
        : [{ name: 'default', params: params as Tensor[] }];
    this.params = specs.flatMap((g) => g.params);
    if (this.params.length === 0) throw new GrpoError('config', 'AdamW needs at least one parameter');
    const names = specs.map((g) => g.name);
    const empty = specs.find((g) => g.params.length === 0);
    if (empty) throw new GrpoError('config', `AdamW parameter group '${empty.name}' has no parameters`);
    if (new Set(names).size !== names.length)
      throw new GrpoError('config', `AdamW parameter groups need distinct names, got ${names.join(', ')}`);
    if (new Set(this.params).size !== this.params.length)
      throw new GrpoError('config', 'a parameter is in more than one AdamW group');
    const noDecay = opts.noDecay ?? ((p: Tensor) => p.ne[1] * p.ne[2] * p.ne[3] === 1);

    this.store = new TensorStore(this.params.length * 2 + 3 * specs.length + 8, 'optimizer');
    let first = 0;
    this.groupList = specs.map((g) => {
      const group = new Group(backend, this.store, g.name, g.params, first);
      first += g.params.length;
      for (const [p, acc] of group.grads) {
        this.grads.set(p, acc);
        this.groupOf.set(p, group);
      }
      return group;
    });
    this.store.allocate(backend);
    for (const g of this.groupList) g.build(backend, noDecay);
  }

  /** The groups' names, in order. */
  get groupNames(): string[] {
    return this.groupList.map((g) => g.name);
  }

  /** Parameters of one group. */
  groupParams(name: string): Tensor[] {
    return this.group(name).params;
  }

  /** Updates applied to the first group (the only one unless groups were given). */
  get stepCount(): number {
    return this.groupList[0].stepCount;
  }

  /** Updates applied to a group (the t of its bias correction). */
  groupStepCount(name: string): number {
    return this.group(name).stepCount;
  }

  /** Updates of every group together: changes whenever any parameter was stepped. */
  get updates(): number {
    return this.groupList.reduce((n, g) => n + g.stepCount, 0);
  }

  /** Set the step counts (a resumed run): one number for every group, or one per group name. */
  setStepCounts(steps: number | Record<string, number>): void {
    const next = this.groupList.map((g) => (typeof steps === 'number' ? steps : steps[g.name]));
    const bad = next.findIndex((t) => !(Number.isInteger(t) && t >= 0));
    if (bad >= 0)
      throw new GrpoError(
        'checkpoint',
        `optimizer step count of group '${this.groupList[bad].name}' must be an integer ≥ 0, got ${next[bad]}`,
      );
    this.groupList.forEach((g, i) => {
      g.stepCount = next[i];
    });
  }

  /** Step counts by group name. */
  stepCounts(): Record<string, number> {
    return Object.fromEntries(this.groupList.map((g) => [g.name, g.stepCount]));
  }

  private group(name: string): Group {
    const g = this.groupList.find((x) => x.name === name);
    if (!g)
      throw new GrpoError('engine', `AdamW has no parameter group '${name}' (groups: ${this.groupNames.join(', ')})`);
    return g;
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

  /** Global L2 norm of the accumulated gradients (of the named groups; default all). */
  gradNorm(groups?: string[]): number {
    const list = groups ? groups.map((n) => this.group(n)) : this.groupList;
    return Math.sqrt(list.reduce((s, g) => s + g.sumOfSquares(), 0));
  }

  /** Zero the accumulated gradients (of the named groups; default all). */
  zeroGrad(groups?: string[]): void {
    for (const g of groups ? groups.map((n) => this.group(n)) : this.groupList) g.gradStore.zero();
  }

  step(opts: StepOptions): StepResult {
    const list = opts.groups ? opts.groups.map((n) => this.group(n)) : this.groupList;
    if (list.length === 0) throw new GrpoError('engine', 'AdamW.step: no group to step');
    const lrs = list.map((g) => (typeof opts.lr === 'number' ? opts.lr : opts.lr[g.name]));
    const badLr = lrs.findIndex((lr) => !(lr >= 0));
    if (badLr >= 0)
      throw new GrpoError(
        'config',
        `learning rate${list.length > 1 || typeof opts.lr !== 'number' ? ` of group '${list[badLr].name}'` : ''} must be ≥ 0, got ${lrs[badLr]}`,
      );
    const squares = list.map((g) => g.sumOfSquares());
    const gradNorm = Math.sqrt(squares.reduce((a, b) => a + b, 0));
    const groupNorms = Object.fromEntries(list.map((g, i) => [g.name, Math.sqrt(squares[i])]));
    const names = list.map((g) => g.name);
    if (!Number.isFinite(gradNorm)) {
      this.zeroGrad(names);
      return { gradNorm, groupNorms, skipped: true };
    }
    const max = opts.maxGradNorm ?? Infinity;
    list.forEach((g, i) => {
      const norm = Math.sqrt(squares[i]);
      // torch.nn.utils.clip_grad_norm_ over the group's parameters: scale by max/(norm + 1e-6) when the norm exceeds max
      g.clipScale.write(new Float32Array([norm > max ? max / (norm + 1e-6) : 1]));
      const t = g.stepCount + 1;
      const common = [lrs[i], this.beta1, this.beta2, this.eps];
      const bias = [1 / (1 - this.beta1 ** t), 1 / (1 - this.beta2 ** t)];
      g.hyperDecay.write(new Float32Array([...common, this.weightDecay, ...bias]));
      g.hyperNoDecay.write(new Float32Array([...common, 0, ...bias]));
      g.stepGraph.compute();
      g.stepCount = t;
    });
    this.zeroGrad(names);
    return { gradNorm, groupNorms, skipped: false };
  }

  /**
   * The moment tensors by checkpoint name (`m.<i>`, `v.<i>`, i the index in `order`: by default the optimizer's
   * own parameter order), so a checkpoint streams them to disk and back one at a time; the step counts complete
   * the state. A model names them in its own parameter order, so grouping its parameters leaves the names alone.
   */
  momentTensors(order: Tensor[] = this.params): [string, Tensor][] {
    return order.flatMap((p, i): [string, Tensor][] => {
      const x = this.momentsOf(p);
      return [
        [`m.${i}`, x.m],
        [`v.${i}`, x.v],
      ];
    });
  }

  private momentsOf(p: Tensor): { m: Tensor; v: Tensor } {
    const g = this.groupOf.get(p);
    if (!g) throw new GrpoError('engine', `${p.describe()} is not optimised by this AdamW`);
    return g.moments[g.params.indexOf(p)];
  }

  /** Moments and step counts as host arrays (small optimizers; checkpoints stream momentTensors). */
  exportState(): { step: number; steps: Record<string, number>; m: Float32Array[]; v: Float32Array[] } {
    const all = this.params.map((p) => this.momentsOf(p));
    return {
      step: this.stepCount,
      steps: this.stepCounts(),
      m: all.map((x) => x.m.readF32()),
      v: all.map((x) => x.v.readF32()),
    };
  }

  /** `steps` absent (a state from before groups): every group resumes at `step`. */
  importState(s: { step: number; steps?: Record<string, number>; m: Float32Array[]; v: Float32Array[] }): void {
    const n = this.params.length;
    if (s.m.length !== n || s.v.length !== n) {
      throw new GrpoError('checkpoint', `optimizer state has ${s.m.length} moment tensors, this model has ${n}`);
    }
    this.params.forEach((p, i) => {
      const x = this.momentsOf(p);
      x.m.write(s.m[i]);
      x.v.write(s.v[i]);
    });
    this.setStepCounts(s.steps ?? s.step);
  }

  /** bytes the norm and step graphs hold besides the parameters, gradients and moments */
  get graphBytes(): number {
    return this.groupList.reduce((n, g) => n + g.graphBytes, 0);
  }

  free(): void {
    for (const g of this.groupList) g.free();
    this.store.free();
  }
}
