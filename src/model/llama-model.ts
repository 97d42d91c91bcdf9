/**
 * A Llama-family model on a ggml backend: inference logits, per-token scoring, and the training seam.
 *
 *   const pass = model.forward(sequences, { grad: true });   // forward part: pass.logp[i][t] = log p(x[t+1] | x[≤t])
 *   pass.backward({ logp: coefficients });                    // backward part of the same graph: ∇θ Σ g·logp
 *   model.optimizer.step({ lr: 1e-5, maxGradNorm: 1 });
 *
 * Sequences are packed (packing.ts): shared prefixes — a GRPO group's prompt — are computed once, and no row is
 * padded. Graphs are built per packed shape and cached (a few shapes at a time), so steady-state training does no
 * graph building.
 * On the CPU, graphs of one kind share one arena (engine/arena.ts): a new shape reuses the memory of the last
 * instead of faulting in gigabytes of its own, so step times stay steady when shapes change.
 */
import { Backend } from '../engine/backend.ts';
import { AdamW, type AdamWOptions } from '../engine/optimizer.ts';
import { GraphArena } from '../engine/arena.ts';
import type { Tensor } from '../engine/tensor.ts';
import { LlamaWeights, VALUE_HEAD, type MatrixType } from './llama-weights.ts';
import { LoraAdapters, type LoraOptions } from './lora.ts';
import { Rng } from '../util/rng.ts';
import { BatchGraph, shapeOf, type EntropyMode, type GraphKind } from './batch-graph.ts';
import { packSequences, packedShapeKey, type PackedBatch } from './packing.ts';
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
  /** pad a packed batch's token and item counts up to a multiple of this and of 32 (ggml's fast kernels want it) */
  padMultiple?: number;
  /** share common prefixes between the sequences of a pass (default true; false computes each sequence whole) */
  packing?: boolean;
  /** queries per attention block of a packed batch (default 64; see packing.ts) */
  attentionBlock?: number;
  /** how many batch shapes keep a built graph (default 4) */
  graphCacheSize?: number;
  /**
   * GPU: memory the cached graphs of earlier batch shapes may hold besides the newest one (default 512 MB): at real
   * scale a graph's buffer is hundreds of MB, and rebuilding one costs little next to computing it. (On the CPU the
   * graphs of a kind share one arena, so a cached graph holds no memory of its own.)
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
  /** bytes of probabilities a training pass may keep for its backward instead of recomputing the logits (default 512 MiB) */
  headKeepBytes?: number;
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
  /**
   * with grad and entropy: build the entropy's backward, so backward() takes entropy coefficients (default true). An
   * entropy that is only logged skips it: a few passes over [vocabulary × tokens] per pass
   */
  entropyGrad?: boolean;
  /** score under softmax(logits / temperature), the sampling distribution (default 1) */
  temperature?: number;
  /**
   * per sequence, the first position t whose next token is scored (default 0): a completion's log-probs alone
   * (promptLength − 1), so the vocabulary-sized head never runs over the prompt
   */
  scoreFrom?: ArrayLike<number>;
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
  /** per sequence i: logp[i][t] = log p(x_i[f+t+1] | x_i[0..f+t]) with f = scoreFrom[i] (default 0), length len_i − 1 − f */
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
  private readonly packing: boolean;
  private readonly attentionBlock: number;
  private readonly cacheSize: number;
  private readonly cacheBytes: number;
  private readonly graphs = new Map<string, BatchGraph>();
  /** CPU: the memory every graph of a kind is planned into */
  private readonly arenas = new Map<GraphKind, GraphArena>();
  private opt?: AdamW;
  /** the optimizer's parameters in the model's order, which names their moments in a checkpoint whatever the groups */
  private trainable: Tensor[] = [];
  private readonly copies = new Map<Precision, WeightCopies>();
  readonly precision: Precision;
  private adapters: LoraAdapters | null;
  /** draws LoRA dropout masks; its state is part of a checkpoint */
  readonly dropoutRng: Rng;
  private readonly headChunkElements?: number;
  private readonly headKeepBytes?: number;
  private readonly recompute: boolean;

  constructor(
    readonly config: LlamaConfig,
    opts: ModelOptions & { weights?: WeightMap } = {},
  ) {
    this.ownsBackend = !opts.backend;
    this.backend = opts.backend ?? Backend.open({ threads: opts.threads, device: opts.device });
    this.padMultiple = opts.padMultiple ?? 32;
    this.packing = opts.packing ?? true;
    this.attentionBlock = opts.attentionBlock ?? 64;
    this.cacheSize = opts.graphCacheSize ?? 4;
    this.cacheBytes = opts.graphCacheBytes ?? 512e6;
    this.precision = resolvePrecision(opts.precision ?? 'f32', this.backend);
    this.headChunkElements = opts.headChunkElements;
    this.headKeepBytes = opts.headKeepBytes;
    this.recompute = opts.recompute ?? false;
    const matrixType = opts.basePrecision ?? (opts.lora ? 'bf16' : 'f32');
    this.weights = new LlamaWeights(config, this.backend, { valueHead: opts.valueHead, matrixType });
    this.adapters = opts.lora ? new LoraAdapters(this.weights, this.backend, opts.lora) : null;
    this.dropoutRng = new Rng((opts.seed ?? 0) + 0x10ad);
    if (opts.weights) this.weights.load(opts.weights);
    else this.weights.initRandom(opts.seed ?? 0);
    this.lora?.initPeft(opts.seed ?? 0);
  }

  /** bytes the graphs' memory holds (activations, gradients of activations, head chunks) */
  get graphBytes(): number {
    const arenas = [...this.arenas.values()].reduce((n, a) => n + a.bytes, 0);
    return (
      arenas + [...this.graphs.values()].reduce((n, g) => n + (this.arenas.has(g.kind) ? 0 : g.graph.allocatedBytes), 0)
    );
  }

  /** The arena graphs of `kind` are planned into (CPU); undefined on a GPU, where ggml's scheduler plans each graph. */
  private arenaFor(kind: GraphKind): GraphArena | undefined {
    if (!this.backend.isCpu) return undefined;
    let a = this.arenas.get(kind);
    // a quarter more than the largest graph so far: batches of somewhat larger shapes then fit the memory already
    // faulted in, and step times stay steady
    if (!a) this.arenas.set(kind, (a = new GraphArena(this.backend, `${kind} graphs`, 1.25)));
    return a;
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
    if (this.weights.matrixType !== 'f32' && !this.lora)
      throw new GrpoError(
        'config',
        `this model's matrices are held in ${this.weights.matrixType}, frozen: train it with LoRA, or open it with base precision f32 for full fine-tuning`,
      );
    const candidates = [...this.weights.byName, ...(this.lora?.byName ?? [])].filter(([, t]) => t.dtype === 'f32');
    const byDefault = (name: string) => !this.lora || this.lora.byName.has(name) || name === VALUE_HEAD;
    const named = candidates.filter(([name]) => (opts.trainable ?? byDefault)(name));
    const trainable = named.map(([, t]) => t);
    if (trainable.length === 0)
      throw new GrpoError(
        'config',
        "no parameter is trainable: the trainable filter matched none of the model's weights",
      );
    const groups = opts.groups ?? [];
    const home = (name: string) => groups.findIndex((g) => g.params(name)) + 1;
    const specs = [{ name: 'default' }, ...groups].map((g, k) => ({
      name: g.name,
      params: named.filter(([name]) => home(name) === k).map(([, t]) => t),
    }));
    const empty = specs.find((g, k) => k > 0 && g.params.length === 0);
    if (empty)
      throw new GrpoError('config', `optimizer group '${empty.name}' matches none of the trainable parameters`);
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
    // nothing is scored: the graph returns the logits of every flat token
    const packed = this.pack(
      sequences,
      sequences.map((s) => Math.max(0, s.length - 1)),
      'every',
    );
    const g = this.graph('logits', packed, 'none', 1, opts.adapters ?? true);
    g.writeInputs(packed);
    this.weightCopies();
    g.graph.compute();
    const all = g.logits!.readF32();
    const V = this.config.vocabSize;
    return packed.nodesOf.map((nodes) => {
      const out = new Float32Array(nodes.length * V);
      nodes.forEach((n, t) => out.set(all.subarray(n * V, (n + 1) * V), t * V));
      return out;
    });
  }

  /**
   * Per-token log-probs (and entropy, values) of each sequence's own next tokens, from position `scoreFrom[i]` on.
   * The sequences are packed (packing.ts): a prefix they share is computed once.
   */
  forward(sequences: ArrayLike<number>[], opts: ForwardOptions = {}): ForwardPass {
    this.assertAlive();
    if (sequences.length === 0) throw new GrpoError('shape', 'forward needs at least one sequence');
    sequences.forEach((s, i) => {
      if (s.length < 2)
        throw new GrpoError(
          'shape',
          `sequence ${i} has ${s.length} tokens; scoring needs at least 2 (a context and a target)`,
        );
    });
    if (opts.scoreFrom && opts.scoreFrom.length !== sequences.length)
      throw new GrpoError('shape', `scoreFrom has ${opts.scoreFrom.length} entries for ${sequences.length} sequences`);
    const kind: GraphKind = opts.grad === 'value_head' ? 'value' : opts.grad ? 'train' : 'score';
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature))
      throw new GrpoError('config', `scoring temperature must be > 0, got ${temperature}`);
    const adapters = opts.adapters ?? true;
    if (!adapters && kind !== 'score')
      throw new GrpoError(
        'config',
        'forward({ grad: true, adapters: false }): the base is frozen; train with the adapters on',
      );
    const packed = this.pack(sequences, opts.scoreFrom);
    const entropy: EntropyMode = !opts.entropy
      ? 'none'
      : kind === 'train' && opts.entropyGrad !== false
        ? 'grad'
        : 'value';
    const g = this.graph(kind, packed, entropy, temperature, adapters);
    g.writeInputs(packed, this.dropoutRng);
    this.weightCopies();
    g.graph.computeForward();
    const generation = ++g.generation;
    const unpack = (t?: Tensor) => {
      if (!t) return undefined;
      const all = t.readF32();
      return packed.itemsOf.map((items) => Float32Array.from(items, (i) => all[i]));
    };
    const key = this.key(kind, packed, entropy, temperature, adapters);
    const pass: ForwardPass = {
      logp: unpack(g.logp)!,
      entropy: unpack(g.entropy),
      values: unpack(g.values),
      backward: (coef: Coefficients) => {
        this.assertAlive();
        if (kind === 'score') throw new GrpoError('engine', 'backward() needs forward(..., { grad: true })');
        if (g.generation !== generation || this.graphs.get(key) !== g) {
          throw new GrpoError(
            'engine',
            'backward() of a stale pass: another forward ran on the same batch shape in between',
          );
        }
        if (coef.values && !g.values)
          throw new GrpoError(
            'config',
            'value coefficients given but the model has no value head (create it with valueHead: true)',
          );
        if (coef.entropy && !g.coefEntropy)
          throw new GrpoError(
            'config',
            'entropy coefficients given but forward ran without { entropy: true } (or with entropyGrad: false)',
          );
        const items = (what: string, rows?: ArrayLike<number>[]) =>
          rows ? this.itemCoefficients(what, rows, packed) : new Float32Array(g.M);
        // a coefficient input exists only where something trainable lies under its output
        g.coefLogp?.write(items('logp', coef.logp));
        g.coefValue?.write(items('values', coef.values));
        g.coefEntropy?.write(items('entropy', coef.entropy));
        g.graph.computeBackward();
      },
    };
    return pass;
  }

  /** The packed batch of `sequences` (tokens checked against the vocabulary). */
  private pack(
    sequences: ArrayLike<number>[],
    scoreFrom?: ArrayLike<number>,
    tokens: 'scored' | 'every' = 'scored',
  ): PackedBatch {
    const V = this.config.vocabSize;
    sequences.forEach((s, b) => {
      for (let t = 0; t < s.length; t++) {
        const tok = s[t];
        if (!Number.isInteger(tok) || tok < 0 || tok >= V)
          throw new GrpoError('shape', `sequence ${b} position ${t}: token ${tok} is outside the vocabulary [0, ${V})`);
      }
    });
    return packSequences(sequences, {
      scoreFrom,
      share: this.packing,
      blockSize: this.attentionBlock,
      padMultiple: this.padMultiple,
      tokens,
    });
  }

  private key(kind: GraphKind, p: PackedBatch, entropy: EntropyMode, temperature: number, adapters: boolean): string {
    return `${kind}:${packedShapeKey(p)}:${entropy}:${temperature}:${adapters && this.lora ? 'lora' : ''}`;
  }

  private graph(
    kind: GraphKind,
    packed: PackedBatch,
    entropy: EntropyMode,
    temperature: number,
    adapters: boolean,
  ): BatchGraph {
    const key = this.key(kind, packed, entropy, temperature, adapters);
    let g = this.graphs.get(key);
    if (g && !g.graph.valid) {
      // a larger graph of its arena grew the memory since: plan this shape again
      g.free();
      this.graphs.delete(key);
      g = undefined;
    }
    if (g) {
      // LRU: move to the back
      this.graphs.delete(key);
      this.graphs.set(key, g);
      return g;
    }
    if (kind === 'train' && !this.opt)
      throw new GrpoError('engine', 'forward({ grad: true }) needs an optimizer: call model.createOptimizer() first');
    if (kind === 'value') this.valueHeadGrad();
    const arena = this.arenaFor(kind);
    // a training graph with memory of its own holds every layer's activations (gigabytes at real scale): keep one at a time
    if (kind === 'train' && !arena) this.dropGraphs('train');
    while (this.graphs.size >= this.cacheSize) {
      const [oldKey, old] = this.graphs.entries().next().value as [string, BatchGraph];
      old.free();
      this.graphs.delete(oldKey);
    }
    g = new BatchGraph(this.backend, this.weights, {
      kind,
      shape: shapeOf(packed),
      entropy,
      temperature,
      copies: this.weightCopies(),
      headChunkElements: this.headChunkElements,
      headKeepBytes: this.headKeepBytes,
      gradAccumulators:
        kind === 'train' ? this.opt!.gradAccumulators : kind === 'value' ? this.valueHeadGrad() : undefined,
      lora: adapters ? this.lora : null,
      recompute: this.recompute && kind === 'train',
      arena,
    });
    // GPU: the older graphs' buffers within the byte budget, least recently used first out
    let older = [...this.graphs.values()].reduce(
      (n, x) => n + (this.arenas.has(x.kind) ? 0 : x.graph.allocatedBytes),
      0,
    );
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
    for (const a of this.arenas.values()) a.free();
    this.arenas.clear();
  }

  /** The value head's gradient accumulator alone: what a 'value_head' pass trains. */
  private valueHeadGrad(): Map<Tensor, Tensor> {
    const head = this.weights.valueHead;
    if (!head)
      throw new GrpoError(
        'config',
        "forward({ grad: 'value_head' }): the model has no value head (create it with valueHead: true)",
      );
    if (!this.opt?.gradAccumulators.has(head))
      throw new GrpoError(
        'engine',
        "forward({ grad: 'value_head' }) needs an optimizer that trains the value head: call model.createOptimizer() first",
      );
    return new Map([[head, this.opt.gradOf(head)]]);
  }

  private dropGraphs(kind: GraphKind): void {
    for (const [k, g] of this.graphs)
      if (g.kind === kind) {
        g.free();
        this.graphs.delete(k);
      }
  }

  /** Per-position coefficients of each sequence, summed per item: a shared item's gradient is the sum of its uses. */
  private itemCoefficients(what: string, coef: ArrayLike<number>[], p: PackedBatch): Float32Array {
    if (coef.length !== p.itemsOf.length)
      throw new GrpoError(
        'shape',
        `${what} coefficients for ${coef.length} sequences, the pass has ${p.itemsOf.length}`,
      );
    const out = new Float32Array(p.itemNode.length);
    coef.forEach((c, b) => {
      const items = p.itemsOf[b];
      if (c.length !== items.length)
        throw new GrpoError(
          'shape',
          `${what} coefficients of sequence ${b}: ${c.length} values for ${items.length} scored tokens`,
        );
      for (let t = 0; t < c.length; t++) {
        if (!Number.isFinite(c[t]))
          throw new GrpoError('numeric', `${what} coefficient of sequence ${b} token ${t} is ${c[t]}`);
        out[items[t]] += c[t];
      }
    });
    return out;
  }

  private freed = false;

  /** Throw, rather than let ggml touch freed memory, when the model is used after free(). */
  private assertAlive(): void {
    if (this.freed)
      throw new GrpoError('engine', 'this model was freed (model.free()); open or create it again to use it');
  }

  free(): void {
    this.freed = true;
    this.releaseGraphs();
    this.opt?.free();
    this.adapters?.free();
    for (const c of this.copies.values()) c.free();
    this.copies.clear();
    this.weights.free();
    if (this.ownsBackend) this.backend.free();
  }
}
