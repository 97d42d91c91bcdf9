/**
 * A Llama-family model on a ggml backend: inference logits, per-token scoring, and the training seam.
 *
 *   const pass = model.forward(sequences, { grad: true });   // forward part: pass.logp[i][t] = log p(x[t+1] | x[≤t])
 *   pass.backward({ logp: coefficients });                    // backward part of the same graph: ∇θ Σ g·logp
 *   model.optimizer.step({ lr: 1e-5, maxGradNorm: 1 });
 *
 * Sequences are packed (packing.ts): shared prefixes — a GRPO group's prompt — are computed once, and no row is
 * padded. Graphs are built per packed shape and cached (batch-graph-cache.ts), so steady-state training does no
 * graph building. A pass and its backward are forward-pass.ts.
 */
import { Backend } from '../engine/backend.ts';
import { AdamW, type AdamWOptions } from '../engine/optimizer.ts';
import type { Tensor } from '../engine/tensor.ts';
import { LlamaWeights, VALUE_HEAD, type MatrixType } from './llama-weights.ts';
import { LoraAdapters, type LoraOptions } from './lora.ts';
import { Rng } from '../util/rng.ts';
import { BatchGraph, shapeOf, type EntropyMode, type GraphKind } from './batch-graph.ts';
import { packSequences, packedShapeKey, type PackedBatch } from './packing.ts';
import { BatchGraphCache } from './batch-graph-cache.ts';
import {
  forwardPass,
  forwardRequest,
  type Coefficients,
  type ForwardOptions,
  type ForwardPass,
} from './forward-pass.ts';
import { WeightCopies, resolvePrecision, type Precision, type PrecisionSetting } from './weight-copies.ts';
import type { LlamaConfig } from './config.ts';
import type { WeightMap } from './host-tensor.ts';
import { GrpoError } from '../errors.ts';

export type { Coefficients, ForwardOptions, ForwardPass };

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

export class LlamaModel {
  readonly backend: Backend;
  readonly weights: LlamaWeights;
  private readonly ownsBackend: boolean;
  private readonly padMultiple: number;
  private readonly packing: boolean;
  private readonly attentionBlock: number;
  private readonly graphs: BatchGraphCache;
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
    this.graphs = new BatchGraphCache(this.backend, opts.graphCacheSize ?? 4, opts.graphCacheBytes ?? 512e6);
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
    return this.graphs.graphBytes;
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
    this.graphs.drop('train');
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
   * Per-token log-probs (and entropy, values) of each sequence's own next tokens, from position `logprobsFrom[i]` on.
   * The sequences are packed (packing.ts): a prefix they share is computed once.
   */
  forward(sequences: ArrayLike<number>[], opts: ForwardOptions = {}): ForwardPass {
    this.assertAlive();
    const { kind, entropy, temperature, adapters } = forwardRequest(sequences, opts);
    const packed = this.pack(sequences, opts.logprobsFrom);
    const g = this.graph(kind, packed, entropy, temperature, adapters);
    g.writeInputs(packed, this.dropoutRng);
    this.weightCopies();
    g.graph.computeForward();
    const key = this.key(kind, packed, entropy, temperature, adapters);
    return forwardPass(g, packed, {
      assertAlive: () => this.assertAlive(),
      isCurrent: () => this.graphs.holds(key, g),
    });
  }

  /** The packed batch of `sequences` (tokens checked against the vocabulary). */
  private pack(
    sequences: ArrayLike<number>[],
    logprobsFrom?: ArrayLike<number>,
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
      logprobsFrom,
      share: this.packing,
      blockSize: this.attentionBlock,
      padMultiple: this.padMultiple,
      tokens,
    });
  }

  private key(kind: GraphKind, p: PackedBatch, entropy: EntropyMode, temperature: number, adapters: boolean): string {
    return `${kind}:${packedShapeKey(p)}:${entropy}:${temperature}:${adapters && this.lora ? 'lora' : ''}`;
  }

  /** The graph of this batch's shape and settings: cached, else built (the cache making room for it). */
  private graph(
    kind: GraphKind,
    packed: PackedBatch,
    entropy: EntropyMode,
    temperature: number,
    adapters: boolean,
  ): BatchGraph {
    const key = this.key(kind, packed, entropy, temperature, adapters);
    const cached = this.graphs.get(key);
    if (cached) return cached;
    if (kind === 'train' && !this.opt)
      throw new GrpoError('engine', 'forward({ grad: true }) needs an optimizer: call model.createOptimizer() first');
    if (kind === 'value') this.valueHeadGrad();
    const arena = this.graphs.arenaFor(kind);
    // a training graph with memory of its own holds every layer's activations (gigabytes at real scale): keep one at a time
    if (kind === 'train' && !arena) this.graphs.drop('train');
    this.graphs.makeRoom();
    const g = new BatchGraph(this.backend, this.weights, {
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
    this.graphs.add(key, g);
    return g;
  }

  /**
   * Free every cached graph (their buffers hold a batch's activations: gigabytes at real scale), e.g. before a
   * checkpoint streams the weights out; the next forward rebuilds the graph it needs.
   */
  releaseGraphs(): void {
    this.graphs.release();
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
