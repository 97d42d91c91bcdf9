/**
 * A Llama-family model on a ggml backend: inference logits, per-token scoring, and the training seam.
 *
 *   const pass = model.forward(sequences, { grad: true });   // forward part: pass.logp[i][t] = log p(x[t+1] | x[≤t])
 *   pass.backward({ logp: coefficients });                    // backward part of the same graph: ∇θ Σ g·logp
 *   model.optimizer.step({ lr: 1e-5, maxGradNorm: 1 });
 *
 * Graphs are built per padded batch shape and cached (a few shapes at a time), so steady-state training does no
 * graph building. Sequence lengths are padded up to a multiple of `padMultiple` to keep the number of shapes small.
 */
import { Backend } from '../engine/backend.ts';
import { AdamW, type AdamWOptions } from '../engine/optimizer.ts';
import type { Tensor } from '../engine/tensor.ts';
import { LlamaWeights, VALUE_HEAD, type MatrixType } from './llama-weights.ts';
import { LoraAdapters, type LoraOptions } from './lora.ts';
import { Rng } from '../util/rng.ts';
import { BatchGraph, type GraphKind } from './batch-graph.ts';
import { WeightCopies, resolvePrecision, type Precision, type PrecisionSetting } from './weight-copies.ts';
import type { LlamaConfig } from './config.ts';
import type { WeightMap } from './host-tensor.ts';
import { GrpoError } from '../errors.ts';

export interface ModelOptions {
  backend?: Backend;
  threads?: number;
  /** auto | cpu | vulkan[:N] | cuda[:N] | metal (default: GRPO_DEVICE, else auto); ignored when `backend` is given */
  device?: string;
  /** add a scalar value head (PPO critic) */
  valueHead?: boolean;
  /** seed for random initialisation when no weights are given */
  seed?: number;
  /** pad sequence lengths up to a multiple of this (default 16) */
  padMultiple?: number;
  /** how many batch shapes keep a built graph (default 4) */
  graphCacheSize?: number;
  /**
   * memory the cached graphs of earlier batch shapes may hold besides the newest one (default 512 MB): at real
   * scale a graph's buffer is hundreds of MB, and rebuilding one costs little next to computing it
   */
  graphCacheBytes?: number;
  /**
   * matmul precision of training and decoding: 'f32' (the exact reference, default), 'bf16' (BF16 copies of the
   * weights feed the products; master weights, AdamW, gradient accumulation and the log-softmax head stay f32), or
   * 'auto' (the fastest this CPU has: see resolvePrecision)
   */
  precision?: PrecisionSetting;
  /** elements per chunk of the vocabulary-sized head tensors (default 2^24: 64 MiB per tensor) */
  headChunkElements?: number;
  /**
   * gradient checkpointing: training graphs keep only each layer's input and recompute its activations in the
   * backward (about a third more compute, activation memory of one layer instead of all)
   */
  recompute?: boolean;
  /** LoRA adapters on a frozen base (PEFT defaults); the optimizer then trains only them (and a value head) */
  lora?: LoraOptions;
  /**
   * storage of the projection matrices and embedding: 'f32', or frozen low precision — 'bf16' (the default with
   * LoRA) or 'q8_0' (ggml's 8-bit blocks, QLoRA-style) — for a LoRA base or a model that only scores (a KL
   * reference). Full fine-tuning trains f32 weights.
   */
  basePrecision?: MatrixType;
}

export interface OptimizerOptions extends AdamWOptions {
  /** which parameters (by Hugging Face name) train; the others are frozen and get no gradient. Default: all */
  trainable?: (name: string) => boolean;
  /**
   * parameter groups beyond the first (torch.optim param_groups): each takes the trainable parameters its filter
   * matches (by name); the first group, 'default', keeps the rest
   */
  groups?: { name: string; params: (name: string) => boolean }[];
}

export interface ForwardOptions {
  /**
   * build the backward part so pass.backward() can run: true trains every parameter the optimizer holds;
   * 'value_head' the value head alone — the trunk runs as in scoring (no LoRA dropout) and the backward is one
   * product with the final hidden state (a PPO critic pass that leaves the policy as it is)
   */
  grad?: boolean | 'value_head';
  /** with LoRA: false scores the base alone (the reference policy of KL, as TRL does with PEFT). Default true */
  adapters?: boolean;
  /** also compute per-token entropy */
  entropy?: boolean;
  /** score under softmax(logits / temperature), the sampling distribution (default 1) */
  temperature?: number;
}

export interface Coefficients {
  /** dL/dlogp per scored token, same ragged shape as pass.logp (absent: 0) */
  logp?: ArrayLike<number>[];
  /** dL/dV per token (value head only) */
  values?: ArrayLike<number>[];
  /** dL/dH per token (needs forward with entropy: true) */
  entropy?: ArrayLike<number>[];
}

export interface ForwardPass {
  /** per sequence i: logp[i][t] = log p(x_i[t+1] | x_i[0..t]), length len_i − 1 */
  logp: Float32Array[];
  entropy?: Float32Array[];
  values?: Float32Array[];
  /** backpropagate Σ g·logp + Σ h·V + Σ e·H into the optimizer's gradient accumulators */
  backward(coef: Coefficients): void;
}

export class LlamaModel {
  readonly backend: Backend;
  readonly weights: LlamaWeights;
  private readonly ownsBackend: boolean;
  private readonly padMultiple: number;
  private readonly cacheSize: number;
  private readonly cacheBytes: number;
  private readonly graphs = new Map<string, BatchGraph>();
  private opt?: AdamW;
  /** the optimizer's parameters in the model's order, which names their moments in a checkpoint whatever the groups */
  private trainable: Tensor[] = [];
  private readonly copies = new Map<Precision, WeightCopies>();
  readonly precision: Precision;
  private adapters: LoraAdapters | null;
  /** draws LoRA dropout masks; its state is part of a checkpoint */
  readonly dropoutRng: Rng;
  private readonly headChunkElements?: number;
  private readonly recompute: boolean;

  constructor(readonly config: LlamaConfig, opts: ModelOptions & { weights?: WeightMap } = {}) {
    this.ownsBackend = !opts.backend;
    this.backend = opts.backend ?? Backend.open({ threads: opts.threads, device: opts.device });
    this.padMultiple = opts.padMultiple ?? 16;
    this.cacheSize = opts.graphCacheSize ?? 4;
    this.cacheBytes = opts.graphCacheBytes ?? 512e6;
    this.precision = resolvePrecision(opts.precision ?? 'f32', this.backend);
    this.headChunkElements = opts.headChunkElements;
    this.recompute = opts.recompute ?? false;
    const matrixType = opts.basePrecision ?? (opts.lora ? 'bf16' : 'f32');
    this.weights = new LlamaWeights(config, this.backend, { valueHead: opts.valueHead, matrixType });
    this.adapters = opts.lora ? new LoraAdapters(this.weights, this.backend, opts.lora) : null;
    this.dropoutRng = new Rng((opts.seed ?? 0) + 0x10ad);
    if (opts.weights) this.weights.load(opts.weights);
    else this.weights.initRandom(opts.seed ?? 0);
    this.lora?.initPeft(opts.seed ?? 0);
  }

  /** bytes the cached graphs' buffers hold (activations, gradients of activations, head chunks) */
  get graphBytes(): number {
    return [...this.graphs.values()].reduce((n, g) => n + g.graph.allocatedBytes, 0);
  }

  /** the LoRA adapters, when the model has them */
  get lora(): LoraAdapters | null {
    return this.adapters;
  }

  /**
   * Put new LoRA adapters on the model (zero update, as PEFT initialises them), replacing any it has: a server
   * swaps adapters of different ranks or targets per request. Not while an optimizer trains the current ones.
   */
  attachLora(options: LoraOptions): LoraAdapters {
    this.assertAlive();
    if (this.opt) throw new GrpoError('engine', 'attachLora: this model already has an optimizer over its adapters');
    const next = new LoraAdapters(this.weights, this.backend, options);
    next.initPeft(0);
    for (const g of this.graphs.values()) g.free();
    this.graphs.clear();
    this.adapters?.free();
    return (this.adapters = next);
  }

  /**
   * Create the AdamW optimizer over the trainable parameters (call once before training). By default: every f32
   * weight, or with LoRA the adapters and the value head; `trainable` picks by name (HF names, PEFT names for
   * adapters) among the f32 tensors.
   */
  createOptimizer(opts: OptimizerOptions = {}): AdamW {
    this.assertAlive();
    if (this.opt) throw new GrpoError('engine', 'this model already has an optimizer');
    this.dropGraphs('train');
    if (this.weights.matrixType !== 'f32' && !this.lora) throw new GrpoError('config', `this model's matrices are held in ${this.weights.matrixType}, frozen: train it with LoRA, or open it with base precision f32 for full fine-tuning`);
    const candidates = [...this.weights.byName, ...(this.lora?.byName ?? [])].filter(([, t]) => t.dtype === 'f32');
    const byDefault = (name: string) => !this.lora || this.lora.byName.has(name) || name === VALUE_HEAD;
    const named = candidates.filter(([name]) => (opts.trainable ?? byDefault)(name));
    const trainable = named.map(([, t]) => t);
    if (trainable.length === 0) throw new GrpoError('config', 'no parameter is trainable: the trainable filter matched none of the model\'s weights');
    const groups = opts.groups ?? [];
    const home = (name: string) => groups.findIndex((g) => g.params(name)) + 1;
    const specs = [{ name: 'default' }, ...groups].map((g, k) => ({ name: g.name, params: named.filter(([name]) => home(name) === k).map(([, t]) => t) }));
    const empty = specs.find((g, k) => k > 0 && g.params.length === 0);
    if (empty) throw new GrpoError('config', `optimizer group '${empty.name}' matches none of the trainable parameters`);
    this.opt = new AdamW(this.backend, specs[0].params.length ? specs : specs.slice(1), opts);
    this.trainable = trainable;
    return this.opt;
  }

  get optimizer(): AdamW {
    if (!this.opt) throw new GrpoError('engine', 'no optimizer: call model.createOptimizer() first');
    return this.opt;
  }

  /** The optimizer's parameters in the model's order (checkpoint names of their moments; see AdamW.momentTensors). */
  get trainableParams(): Tensor[] {
    return this.trainable;
  }

  /**
   * The copies of the weights that products in `precision` read, brought up to date with the f32 weights
   * (see weight-copies.ts).
   */
  weightCopies(setting: PrecisionSetting = this.precision): WeightCopies {
    this.assertAlive();
    const precision = resolvePrecision(setting, this.backend);
    let c = this.copies.get(precision);
    if (!c) this.copies.set(precision, (c = new WeightCopies(this.backend, this.weights, precision)));
    // loads and optimizer steps are the only writers of the weights (adapters are not copied)
    const trainsMatrices = this.opt?.params.some((p) => p.ne[1] > 1 && this.weights.byName.get(p.name) === p);
    c.sync(this.weights.version, trainsMatrices ? this.opt!.updates : 0);
    return c;
  }

  /** Next-token logits at every position: out[i] is [len_i × vocab], row t predicting token t+1. */
  logits(sequences: ArrayLike<number>[], opts: { adapters?: boolean } = {}): Float32Array[] {
    this.assertAlive();
    const lens = sequences.map((s) => s.length);
    const T = this.padLength(Math.max(...lens), sequences.length);
    const g = this.graph('logits', sequences.length, T, false, 1, opts.adapters ?? true);
    g.writeInputs(this.packTokens(sequences, T, 0));
    this.weightCopies();
    g.graph.compute();
    const all = g.logits!.readF32();
    const V = this.config.vocabSize;
    return sequences.map((_, b) => all.slice(b * T * V, (b * T + lens[b]) * V));
  }

  /** Per-token log-probs (and entropy, values) of each sequence's own next tokens. */
  forward(sequences: ArrayLike<number>[], opts: ForwardOptions = {}): ForwardPass {
    this.assertAlive();
    if (sequences.length === 0) throw new GrpoError('shape', 'forward needs at least one sequence');
    const lens = sequences.map((s, i) => {
      if (s.length < 2) throw new GrpoError('shape', `sequence ${i} has ${s.length} tokens; scoring needs at least 2 (a context and a target)`);
      return s.length - 1;
    });
    const T = this.padLength(Math.max(...lens), sequences.length);
    const kind: GraphKind = opts.grad === 'value_head' ? 'value' : opts.grad ? 'train' : 'score';
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature)) throw new GrpoError('config', `scoring temperature must be > 0, got ${temperature}`);
    const adapters = opts.adapters ?? true;
    if (!adapters && kind !== 'score') throw new GrpoError('config', 'forward({ grad: true, adapters: false }): the base is frozen; train with the adapters on');
    const g = this.graph(kind, sequences.length, T, !!opts.entropy, temperature, adapters);
    g.writeInputs(this.packTokens(sequences, T, 0), this.packTokens(sequences, T, 1), this.dropoutRng);
    this.weightCopies();
    g.graph.computeForward();
    const generation = ++g.generation;
    const unpack = (t?: Tensor) => {
      if (!t) return undefined;
      const all = t.readF32();
      return lens.map((n, b) => all.slice(b * T, b * T + n));
    };
    const pass: ForwardPass = {
      logp: unpack(g.logp)!,
      entropy: unpack(g.entropy),
      values: unpack(g.values),
      backward: (coef: Coefficients) => {
        this.assertAlive();
        if (kind === 'score') throw new GrpoError('engine', 'backward() needs forward(..., { grad: true })');
        if (g.generation !== generation || !this.graphs.has(this.key(kind, sequences.length, T, !!opts.entropy, temperature, adapters))) {
          throw new GrpoError('engine', 'backward() of a stale pass: another forward ran on the same batch shape in between');
        }
        if (coef.values && !g.values) throw new GrpoError('config', 'value coefficients given but the model has no value head (create it with valueHead: true)');
        if (coef.entropy && !g.entropy) throw new GrpoError('config', 'entropy coefficients given but forward ran without { entropy: true }');
        const logpCoef = coef.logp ? this.packCoefficients('logp', coef.logp, lens, T) : new Float32Array(g.N);
        const valueCoef = coef.values ? this.packCoefficients('values', coef.values, lens, T) : new Float32Array(g.N);
        const entropyCoef = coef.entropy ? this.packCoefficients('entropy', coef.entropy, lens, T) : new Float32Array(g.N);
        // a coefficient input exists only where something trainable lies under its output
        g.coefLogp?.write(logpCoef);
        g.coefValue?.write(valueCoef);
        g.coefEntropy?.write(entropyCoef);
        g.graph.computeBackward();
      },
    };
    return pass;
  }

  /**
   * Positions per sequence: n rounded up to `padMultiple`, and further so that the batch's token count B·T is a
   * multiple of 32 — the weight gradients contract over tokens, and ggml's fast matmul kernels (llamafile sgemm)
   * need that dimension to be a multiple of 8–32 (else a kernel ~5× slower runs).
   */
  private padLength(n: number, B: number): number {
    const step = lcm(this.padMultiple, 32 / gcd(B, 32));
    return Math.ceil(n / step) * step;
  }

  private key(kind: GraphKind, B: number, T: number, entropy: boolean, temperature: number, adapters: boolean): string {
    return `${kind}:${B}x${T}:${entropy ? 'H' : ''}:${temperature}:${adapters && this.lora ? 'lora' : ''}`;
  }

  private graph(kind: GraphKind, B: number, T: number, entropy: boolean, temperature: number, adapters: boolean): BatchGraph {
    const key = this.key(kind, B, T, entropy, temperature, adapters);
    let g = this.graphs.get(key);
    if (g) {
      // LRU: move to the back
      this.graphs.delete(key);
      this.graphs.set(key, g);
      return g;
    }
    if (kind === 'train' && !this.opt) throw new GrpoError('engine', 'forward({ grad: true }) needs an optimizer: call model.createOptimizer() first');
    if (kind === 'value') this.valueHeadGrad();
    // a training graph holds every layer's activations (gigabytes at real scale): keep one at a time
    if (kind === 'train') this.dropGraphs('train');
    while (this.graphs.size >= this.cacheSize) {
      const [oldKey, old] = this.graphs.entries().next().value as [string, BatchGraph];
      old.free();
      this.graphs.delete(oldKey);
    }
    g = new BatchGraph(this.backend, this.weights, {
      kind, B, T, entropy, temperature, copies: this.weightCopies(), headChunkElements: this.headChunkElements,
      gradAccumulators: kind === 'train' ? this.opt!.gradAccumulators : kind === 'value' ? this.valueHeadGrad() : undefined,
      lora: adapters ? this.lora : null,
      recompute: this.recompute && kind === 'train',
    });
    // the older graphs' buffers within the byte budget, least recently used first out
    let older = [...this.graphs.values()].reduce((n, x) => n + x.graph.allocatedBytes, 0);
    for (const [k, old] of this.graphs) {
      if (older <= this.cacheBytes) break;
      older -= old.graph.allocatedBytes;
      old.free();
      this.graphs.delete(k);
    }
    this.graphs.set(key, g);
    return g;
  }

  /**
   * Free every cached graph (their buffers hold a batch's activations: gigabytes at real scale), e.g. before a
   * checkpoint streams the weights out; the next forward rebuilds the graph it needs.
   */
  releaseGraphs(): void {
    for (const g of this.graphs.values()) g.free();
    this.graphs.clear();
  }

  /** The value head's gradient accumulator alone: what a 'value_head' pass trains. */
  private valueHeadGrad(): Map<Tensor, Tensor> {
    const head = this.weights.valueHead;
    if (!head) throw new GrpoError('config', "forward({ grad: 'value_head' }): the model has no value head (create it with valueHead: true)");
    if (!this.opt?.gradAccumulators.has(head)) throw new GrpoError('engine', "forward({ grad: 'value_head' }) needs an optimizer that trains the value head: call model.createOptimizer() first");
    return new Map([[head, this.opt.gradOf(head)]]);
  }

  private dropGraphs(kind: GraphKind): void {
    for (const [k, g] of this.graphs) if (g.kind === kind) { g.free(); this.graphs.delete(k); }
  }

  /** Row b holds tokens s_b[offset..offset+T), zero-padded; tokens are checked against the vocabulary. */
  private packTokens(seqs: ArrayLike<number>[], T: number, offset: number): Int32Array {
    const V = this.config.vocabSize;
    const out = new Int32Array(seqs.length * T);
    seqs.forEach((s, b) => {
      const n = Math.min(T, s.length - offset);
      for (let t = 0; t < n; t++) {
        const tok = s[t + offset];
        if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new GrpoError('shape', `sequence ${b} position ${t + offset}: token ${tok} is outside the vocabulary [0, ${V})`);
        out[b * T + t] = tok;
      }
    });
    return out;
  }

  private packCoefficients(what: string, coef: ArrayLike<number>[], lens: number[], T: number): Float32Array {
    if (coef.length !== lens.length) throw new GrpoError('shape', `${what} coefficients for ${coef.length} sequences, the pass has ${lens.length}`);
    const out = new Float32Array(lens.length * T);
    coef.forEach((c, b) => {
      if (c.length !== lens[b]) throw new GrpoError('shape', `${what} coefficients of sequence ${b}: ${c.length} values for ${lens[b]} scored tokens`);
      for (let t = 0; t < c.length; t++) {
        if (!Number.isFinite(c[t])) throw new GrpoError('numeric', `${what} coefficient of sequence ${b} token ${t} is ${c[t]}`);
        out[b * T + t] = c[t];
      }
    });
    return out;
  }

  private freed = false;

  /** Throw, rather than let ggml touch freed memory, when the model is used after free(). */
  private assertAlive(): void {
    if (this.freed) throw new GrpoError('engine', 'this model was freed (model.free()); open or create it again to use it');
  }

  free(): void {
    this.freed = true;
    for (const g of this.graphs.values()) g.free();
    this.graphs.clear();
    this.opt?.free();
    this.adapters?.free();
    for (const c of this.copies.values()) c.free();
    this.copies.clear();
    this.weights.free();
    if (this.ownsBackend) this.backend.free();
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
