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
import type { LlamaWeights, LayerWeights } from './llama-weights.ts';
import type { WeightCopies } from './weight-copies.ts';
import { Tape, type ParamGradients } from './tape.ts';
import { transformerBlock } from './block.ts';
import { Projection } from './pieces/projection.ts';
import { embedding } from './pieces/embedding.ts';
import { rmsNorm } from './pieces/rms-norm.ts';
import { packedAttention, type PackedLayout } from './pieces/packed-attention.ts';
import { gatherColumns } from './pieces/structural.ts';
import type { AttentionFamily, PackedBatch } from './packing.ts';
import { recomputed } from './pieces/recompute.ts';
import {
  tokenLogProbs,
  tokenValues,
  flatTargets,
  tokenChunks,
  vocabChunks,
  HEAD_KEEP_BYTES,
} from './pieces/token-head.ts';
import type { LoraAdapters } from './lora.ts';
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
  /** i32 [M]: the flat token whose hidden state each item scores */
  private readonly itemNode?: Tensor;
  /** chunk-local flat target indices (token-head.ts) */
  readonly targets?: Tensor;
  /** plain target ids, for the backward's one-hot part (created only where the backward reads them) */
  private targetIds?: Tensor;
  readonly logits?: Tensor;
  readonly logp?: Tensor;
  readonly entropy?: Tensor;
  readonly values?: Tensor;
  readonly coefLogp?: Tensor;
  readonly coefValue?: Tensor;
  readonly coefEntropy?: Tensor;
  private readonly headChunkElements?: number;
  /** LoRA dropout masks of a train graph, redrawn for every forward */
  private readonly dropoutMasks: Tensor[] = [];
  private readonly dropout: number;
  /** bumped by every forward compute, so a stale pass cannot run its backward on newer activations */
  generation = 0;

  constructor(
    backend: Backend,
    readonly weights: LlamaWeights,
    opts: BatchGraphOptions,
  ) {
    const c = weights.config;
    const { kind, shape } = opts;
    this.kind = kind;
    this.shape = shape;
    const N = (this.N = shape.N),
      M = (this.M = shape.M);
    this.headChunkElements = opts.headChunkElements;
    // head chunks: of items in the forward, of the vocabulary in the backward (token-head.ts)
    const headChunks =
      tokenChunks(M, c.vocabSize, opts.headChunkElements).length +
      vocabChunks(c.vocabSize, M, opts.headChunkElements).length;
    const nParams = weights.parameters.length + (opts.lora?.byName.size ?? 0);
    const perLayer = 600 + 60 * shape.families.length;
    const g = (this.graph = new ComputeGraph(backend, {
      maxNodes: perLayer * c.nLayers + 40 * headChunks + 256,
      externalTensors: 4 * nParams + 8,
      arena: opts.arena,
    }));
    const grads = kind === 'train' || kind === 'value';
    if (grads && !opts.gradAccumulators)
      throw new GrpoError('engine', `a ${kind} graph needs the optimizer gradient accumulators`);
    const tape = new Tape(g, grads ? accumulateInto(g, opts.gradAccumulators!) : null);
    // LoRA dropout acts in training only (PEFT's train mode); scoring passes see the whole adapter
    this.dropout = kind === 'train' ? (opts.lora?.settings.dropout ?? 0) : 0;
    const mask =
      this.dropout > 0
        ? (x: Tensor) =>
            this.dropoutMasks[
              this.dropoutMasks.push(g.input('f32', [...x.ne], `lora_dropout_${this.dropoutMasks.length}`)) - 1
            ]
        : null;
    const proj = new Projection(kind === 'train' ? opts.copies.withTransposed() : opts.copies, opts.lora ?? null, mask);
    this.tokens = g.input('i32', [N], 'tokens');
    this.positions = g.input('i32', [N], 'positions');
    const slots = (per: (f: AttentionFamily) => number) => shape.families.reduce((n, f) => n + f.rows * per(f), 0);
    this.layout = {
      families: shape.families,
      queryIndex: g.input('i32', [slots((f) => f.queries)], 'query_index'),
      keyIndex: g.input('i32', [slots((f) => f.keys)], 'key_index'),
      outIndex: g.input('i32', [N], 'out_index'),
      masks: shape.families.map((f, i) => g.input('f32', [f.keys, f.queries, 1, f.rows], `attention_mask_${i}`)),
    };

    const block = (t: Tape, layer: LayerWeights, xin: Tensor) =>
      transformerBlock(
        t,
        proj,
        layer,
        xin,
        this.positions,
        (q, k, v) => packedAttention(t, q, k, v, this.layout, c),
        c,
      );
    let x = embedding(tape, weights.embed, this.tokens); // [dim, N]
    for (const layer of weights.layers) {
      x =
        opts.recompute && tape.recording
          ? recomputed(tape, x, layerTensors(layer, opts.lora ?? null), (t, xin) => block(t, layer, xin))
          : block(tape, layer, x);
    }
    const hidden = rmsNorm(tape, x, weights.finalNorm, c.normEps);
    if (kind === 'logits') {
      this.logits = g.output(g.ops.matmul(opts.copies.forward(weights.lmHead), hidden));
      g.expand(this.logits);
      g.allocate();
      return;
    }
    // the head reads only the scored items' hidden states
    this.itemNode = g.input('i32', [M], 'item_node');
    const scored = gatherColumns(tape, hidden, this.itemNode); // [dim, M]
    this.targets = g.input('i32', [M], 'flat_targets');
    const targets = { flat: this.targets, ids: () => (this.targetIds ??= g.input('i32', [M], 'target_ids')) };
    const head = tokenLogProbs(tape, proj, weights.lmHead, scored, targets, {
      temperature: opts.temperature,
      entropy: opts.entropy !== 'none',
      chunkElements: opts.headChunkElements,
      // gradient checkpointing asks for the least memory: recompute the logits rather than keep the probabilities
      keepBytes: opts.recompute ? 0 : (opts.headKeepBytes ?? HEAD_KEEP_BYTES),
    });
    this.logp = g.output(head.logp);
    if (head.entropy) this.entropy = g.output(head.entropy);
    if (weights.valueHead) this.values = g.output(tokenValues(tape, weights.valueHead, scored));
    for (const t of [this.logp, this.entropy, this.values]) if (t) g.expand(t);
    if (grads) {
      g.beginBackward();
      // a coefficient input exists only where something trainable lies under its output
      const seed = (output: Tensor | undefined, name: string) => {
        if (!output || !tape.needs(output)) return undefined;
        const coef = g.input('f32', [1, M], name);
        tape.seed(output, coef);
        return coef;
      };
      this.coefLogp = seed(this.logp, 'coef_logp');
      this.coefValue = seed(this.values, 'coef_value');
      if (opts.entropy === 'grad') this.coefEntropy = seed(this.entropy, 'coef_entropy');
      tape.backward();
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
    this.layout.queryIndex.write(p.queryIndex);
    this.layout.keyIndex.write(p.keyIndex);
    this.layout.outIndex.write(p.outIndex);
    this.layout.masks.forEach((m, i) => m.write(p.masks[i]));
    if (this.targets) {
      this.itemNode!.write(p.itemNode);
      this.targets.write(flatTargets(p.itemTarget, this.weights.config.vocabSize, this.headChunkElements));
      this.targetIds?.write(p.itemTarget);
    }
    if (this.dropoutMasks.length && !rng)
      throw new GrpoError('engine', 'this graph has LoRA dropout: pass the dropout RNG');
    const keep = 1 / (1 - this.dropout);
    for (const m of this.dropoutMasks)
      m.write(Float32Array.from({ length: m.numel }, () => (rng!.next() < this.dropout ? 0 : keep)));
  }

  free(): void {
    this.graph.free();
  }
}

/** Every tensor a layer's forward reads as a weight: its parameters and their LoRA adapters. */
function layerTensors(layer: LayerWeights, lora: LoraAdapters | null): Tensor[] {
  const own = Object.values(layer).filter((t): t is Tensor => t !== undefined);
  return own.concat(
    own.flatMap((w) => {
      const a = lora?.of(w);
      return a ? [a.a, a.b] : [];
    }),
  );
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
