/**
 * One graph of the model over the shape of a packed batch (packing.ts: N flat tokens, M scored items, attention
 * families), in one of four kinds:
 * - 'logits': next-token logits at every flat token (inference, reference checks);
 * - 'score':  per item, the log-prob of its target token, the entropy and the value — no gradients (old /
 *             reference policy);
 * - 'train':  the same forward, then the hand-written backward of  L = Σ g·logp + Σ h·V + Σ e·H  into the
 *             optimizer's gradient accumulators. g, h, e are per-item coefficients computed in TypeScript between
 *             the forward and the backward part (DESIGN.md's seam), so dL/dθ is exactly the algorithm's gradient.
 * - 'value':  the 'score' forward, then the backward of Σ h·V into the value head alone (a critic pass: the
 *             tape records only the head's product, so no activation of the trunk is kept or differentiated)
 * Any batch of the same shape runs on the same graph: the tokens, positions and layout are inputs.
 */
import { ComputeGraph } from '../engine/graph.ts';
import type { GraphArena } from '../engine/arena.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights } from './llama-weights.ts';
import type { WeightCopies } from './weight-copies.ts';
import { Tape, type ParamGradients } from './tape.ts';
import { nextTokenLogits, trunk } from './trunk.ts';
import { Projection } from './pieces/projection.ts';
import {
  packedAttention,
  packedLayoutInputs,
  writePackedLayout,
  type PackedLayout,
} from './pieces/packed-attention.ts';
import { gatherColumns } from './pieces/structural.ts';
import type { AttentionFamily, PackedBatch } from './packing.ts';
import {
  tokenLogProbs,
  tokenValues,
  flatTargets,
  tokenChunks,
  vocabChunks,
  HEAD_KEEP_BYTES,
  type HeadTargets,
} from './pieces/token-head.ts';
import type { LoraAdapters } from './lora.ts';
import { LoraDropout } from './lora-dropout.ts';
import type { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export type GraphKind = 'logits' | 'score' | 'train' | 'value';
/** the entropy: not computed, computed, or computed and differentiated (its coefficients join the backward) */
export type EntropyMode = 'none' | 'value' | 'grad';

/** What a graph is built for: the padded counts of a packed batch and its attention families. */
export interface BatchShape {
  /** flat tokens */
  N: number;
  /** scored items */
  M: number;
  families: AttentionFamily[];
}

/** The shape of a packed batch. */
export function shapeOf(p: PackedBatch): BatchShape {
  return { N: p.tokens.length, M: p.itemNode.length, families: p.families };
}

export interface BatchGraphOptions {
  kind: GraphKind;
  shape: BatchShape;
  entropy: EntropyMode;
  /** log-probs and entropy are of softmax(logits / temperature), the distribution sampling used */
  temperature: number;
  /** the matrices the products read (precision copies, and transposed copies for 'train') */
  copies: WeightCopies;
  /** 'train', 'value': gradient accumulator of each trained parameter (parameters not in the map are frozen) */
  gradAccumulators?: Map<Tensor, Tensor>;
  /** elements per chunk of the vocabulary-sized head tensors (default: token-head.ts's bound) */
  headChunkElements?: number;
  /** 'train': bytes of probabilities the head may keep for the backward (default HEAD_KEEP_BYTES; 0 recomputes) */
  headKeepBytes?: number;
  /** LoRA adapters applied by the projections (null: the base alone) */
  lora?: LoraAdapters | null;
  /** 'train': recompute each layer's activations in the backward instead of keeping them (gradient checkpointing) */
  recompute?: boolean;
  /** CPU: plan the graph into this arena, shared with graphs of other shapes (engine/arena.ts) */
  arena?: GraphArena;
}

export class BatchGraph {
  readonly graph: ComputeGraph;
  readonly kind: GraphKind;
  readonly shape: BatchShape;
  readonly N: number;
  readonly M: number;
  readonly tokens: Tensor;
  readonly positions: Tensor;
  private readonly layout: PackedLayout;
  /** the scored items' inputs (all kinds but 'logits') */
  private readonly items?: ItemInputs;
  readonly logits?: Tensor;
  readonly logp?: Tensor;
  readonly entropy?: Tensor;
  readonly values?: Tensor;
  readonly coefLogp?: Tensor;
  readonly coefValue?: Tensor;
  readonly coefEntropy?: Tensor;
  private readonly dropout: LoraDropout;
  /** bumped by every forward compute, so a stale pass cannot run its backward on newer activations */
  generation = 0;

  constructor(
    backend: Backend,
    readonly weights: LlamaWeights,
    opts: BatchGraphOptions,
  ) {
    const { kind, shape } = opts;
    this.kind = kind;
    this.shape = shape;
    const N = (this.N = shape.N),
      M = (this.M = shape.M);
    const g = (this.graph = new ComputeGraph(backend, { ...graphCapacity(weights, opts), arena: opts.arena }));
    const grads = kind === 'train' || kind === 'value';
    if (grads && !opts.gradAccumulators)
      throw new GrpoError('engine', `a ${kind} graph needs the optimizer gradient accumulators`);
    const tape = new Tape(g, grads ? accumulateInto(g, opts.gradAccumulators!) : null);
    // LoRA dropout acts in training only (PEFT's train mode); scoring passes see the whole adapter
    this.dropout = new LoraDropout(g, kind === 'train' ? (opts.lora?.settings.dropout ?? 0) : 0);
    const copies = kind === 'train' ? opts.copies.withTransposed() : opts.copies;
    const proj = new Projection(copies, opts.lora ?? null, this.dropout.mask);
    this.tokens = g.input('i32', [N], 'tokens');
    this.positions = g.input('i32', [N], 'positions');
    const layout = (this.layout = packedLayoutInputs(g, shape.families, N));
    const hidden = trunk(tape, {
      weights,
      proj,
      tokens: this.tokens,
      positions: this.positions,
      attention: (t) => (q, k, v) => packedAttention(t, q, k, v, layout, weights.config),
      recompute: opts.recompute,
      lora: opts.lora,
    });
    if (kind === 'logits') {
      this.logits = g.output(nextTokenLogits(tape, opts.copies, weights.lmHead, hidden));
      g.expand(this.logits);
      g.allocate();
      return;
    }
    this.items = new ItemInputs(g, M, weights.config.vocabSize, opts.headChunkElements);
    const out = itemOutputs(tape, proj, weights, hidden, this.items, opts);
    this.logp = out.logp;
    this.entropy = out.entropy;
    this.values = out.values;
    if (grads) {
      const coef = buildBackward(tape, out, M, opts.entropy === 'grad');
      this.coefLogp = coef.logp;
      this.coefValue = coef.value;
      this.coefEntropy = coef.entropy;
    }
    g.allocate();
  }

  /**
   * Upload a packed batch of this graph's shape; `rng` draws the LoRA dropout masks of a train graph (inverted
   * dropout: kept entries are 1/(1 − p)).
   */
  writeInputs(p: PackedBatch, rng?: Rng): void {
    if (
      p.tokens.length !== this.N ||
      p.itemNode.length !== this.M ||
      p.families.length !== this.shape.families.length
    ) {
      throw new GrpoError(
        'engine',
        `a packed batch of ${p.tokens.length} tokens and ${p.itemNode.length} items does not fit a graph built for ${this.N} and ${this.M}`,
      );
    }
    this.tokens.write(p.tokens);
    this.positions.write(p.positions);
    writePackedLayout(this.layout, p);
    this.items?.write(p);
    this.dropout.write(rng);
  }

  free(): void {
    this.graph.free();
  }
}

/** Node and tensor room of a batch graph: per layer and attention family, per head chunk, per parameter. */
function graphCapacity(weights: LlamaWeights, opts: BatchGraphOptions): { maxNodes: number; externalTensors: number } {
  const c = weights.config,
    { M, families } = opts.shape;
  // head chunks: of items in the forward, of the vocabulary in the backward (token-head.ts)
  const headChunks =
    tokenChunks(M, c.vocabSize, opts.headChunkElements).length +
    vocabChunks(c.vocabSize, M, opts.headChunkElements).length;
  const nParams = weights.parameters.length + (opts.lora?.byName.size ?? 0);
  const perLayer = 600 + 60 * families.length;
  return { maxNodes: perLayer * c.nLayers + 40 * headChunks + 256, externalTensors: 4 * nParams + 8 };
}

/** The inputs of the M scored items: the flat token whose hidden state each scores, and its target token. */
class ItemInputs {
  /** i32 [M]: the flat token whose hidden state each item scores */
  readonly node: Tensor;
  /** chunk-local flat target indices (token-head.ts) */
  private readonly flat: Tensor;
  /** plain target ids, for the backward's one-hot part (created only where the backward reads them) */
  private ids?: Tensor;

  constructor(
    private readonly g: ComputeGraph,
    private readonly M: number,
    private readonly vocab: number,
    private readonly headChunkElements?: number,
  ) {
    this.node = g.input('i32', [M], 'item_node');
    this.flat = g.input('i32', [M], 'flat_targets');
  }

  get targets(): HeadTargets {
    return { flat: this.flat, ids: () => (this.ids ??= this.g.input('i32', [this.M], 'target_ids')) };
  }

  write(p: PackedBatch): void {
    this.node.write(p.itemNode);
    this.flat.write(flatTargets(p.itemTarget, this.vocab, this.headChunkElements));
    this.ids?.write(p.itemTarget);
  }
}

interface ItemOutputs {
  logp: Tensor;
  entropy?: Tensor;
  values?: Tensor;
}

/** The head over the scored items' hidden states only: log-prob of each target, entropy, value; graph outputs. */
function itemOutputs(
  tape: Tape,
  proj: Projection,
  weights: LlamaWeights,
  hidden: Tensor,
  items: ItemInputs,
  opts: BatchGraphOptions,
): ItemOutputs {
  const g = tape.graph;
  const scored = gatherColumns(tape, hidden, items.node); // [dim, M]
  const head = tokenLogProbs(tape, proj, weights.lmHead, scored, items.targets, {
    temperature: opts.temperature,
    entropy: opts.entropy !== 'none',
    chunkElements: opts.headChunkElements,
    // gradient checkpointing asks for the least memory: recompute the logits rather than keep the probabilities
    keepBytes: opts.recompute ? 0 : (opts.headKeepBytes ?? HEAD_KEEP_BYTES),
  });
  const out: ItemOutputs = { logp: g.output(head.logp) };
  if (head.entropy) out.entropy = g.output(head.entropy);
  if (weights.valueHead) out.values = g.output(tokenValues(tape, weights.valueHead, scored));
  for (const t of [out.logp, out.entropy, out.values]) if (t) g.expand(t);
  return out;
}

/**
 * The backward part, seeded by one coefficient input per output: one exists only where something trainable lies
 * under its output, and the entropy's only when it is differentiated.
 */
function buildBackward(
  tape: Tape,
  out: ItemOutputs,
  M: number,
  entropyGrad: boolean,
): { logp?: Tensor; value?: Tensor; entropy?: Tensor } {
  const g = tape.graph;
  g.beginBackward();
  const seed = (output: Tensor | undefined, name: string) => {
    if (!output || !tape.needs(output)) return undefined;
    const coef = g.input('f32', [1, M], name);
    tape.seed(output, coef);
    return coef;
  };
  const logp = seed(out.logp, 'coef_logp');
  const value = seed(out.values, 'coef_value');
  const entropy = entropyGrad ? seed(out.entropy, 'coef_entropy') : undefined;
  tape.backward();
  return { logp, value, entropy };
}

/**
 * Parameter gradients added in place into static accumulators (so micro-batches add up). Several contributions to
 * one parameter (tied embeddings, the head's vocabulary chunks) need no ordering between them: graph nodes run one
 * after another, each adding into the accumulator's current values.
 */
function accumulateInto(g: ComputeGraph, accumulators: Map<Tensor, Tensor>): ParamGradients {
  return {
    wants: (w) => accumulators.has(w),
    add: (w, dw, fromColumn) => {
      const acc = accumulators.get(w)!;
      g.expand(g.ops.addInto(fromColumn === undefined ? acc : g.ops.columns(acc, fromColumn, dw.ne[1]), dw));
    },
  };
}
