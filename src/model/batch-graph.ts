/**
 * One graph of the model over a fixed batch shape (B sequences × T positions, token n = b·T + t), in one of
 * four kinds:
 * - 'logits': next-token logits at every position (inference, reference checks);
 * - 'score':  per-token log-prob of the next token, entropy and value — no gradients (old / reference policy);
 * - 'train':  the same forward, then the hand-written backward of  L = Σ g·logp + Σ h·V + Σ e·H  into the
 *             optimizer's gradient accumulators. g, h, e are per-token coefficients computed in TypeScript between
 *             the forward and the backward part (DESIGN.md's seam), so dL/dθ is exactly the algorithm's gradient.
 * - 'value':  the 'score' forward, then the backward of Σ h·V into the value head alone (a critic pass: the
 *             tape records only the head's product, so no activation of the trunk is kept or differentiated)
 */
import { ComputeGraph } from '../engine/graph.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights, LayerWeights } from './llama-weights.ts';
import type { WeightCopies } from './weight-copies.ts';
import { Tape, type ParamGradients } from './tape.ts';
import { transformerBlock } from './block.ts';
import { Projection } from './pieces/projection.ts';
import { embedding } from './pieces/embedding.ts';
import { rmsNorm } from './pieces/rms-norm.ts';
import { causalAttention, causalMask } from './pieces/causal-attention.ts';
import { recomputed } from './pieces/recompute.ts';
import { tokenLogProbs, tokenValues, flatTargets, tokenChunks, vocabChunks } from './pieces/token-head.ts';
import type { LoraAdapters } from './lora.ts';
import type { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export type GraphKind = 'logits' | 'score' | 'train' | 'value';

export interface BatchGraphOptions {
  kind: GraphKind;
  B: number;
  T: number;
  entropy: boolean;
  /** log-probs and entropy are of softmax(logits / temperature), the distribution sampling used */
  temperature: number;
  /** the matrices the products read (precision copies, and transposed copies for 'train') */
  copies: WeightCopies;
  /** 'train', 'value': gradient accumulator of each trained parameter (parameters not in the map are frozen) */
  gradAccumulators?: Map<Tensor, Tensor>;
  /** elements per chunk of the vocabulary-sized head tensors (default: token-head.ts's bound) */
  headChunkElements?: number;
  /** LoRA adapters applied by the projections (null: the base alone) */
  lora?: LoraAdapters | null;
  /** 'train': recompute each layer's activations in the backward instead of keeping them (gradient checkpointing) */
  recompute?: boolean;
}

export class BatchGraph {
  readonly graph: ComputeGraph;
  readonly kind: GraphKind;
  readonly B: number;
  readonly T: number;
  readonly N: number;
  readonly tokens: Tensor;
  readonly positions: Tensor;
  readonly mask: Tensor;
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

  constructor(backend: Backend, readonly weights: LlamaWeights, opts: BatchGraphOptions) {
    const c = weights.config;
    const { kind, B, T } = opts;
    this.kind = kind;
    this.B = B;
    this.T = T;
    const N = (this.N = B * T);
    this.headChunkElements = opts.headChunkElements;
    // head chunks: of tokens in the forward, of the vocabulary in the backward (token-head.ts)
    const headChunks = tokenChunks(N, c.vocabSize, opts.headChunkElements).length + vocabChunks(c.vocabSize, N, opts.headChunkElements).length;
    const nParams = weights.parameters.length + (opts.lora?.byName.size ?? 0);
    const g = (this.graph = new ComputeGraph(backend, { maxNodes: 600 * c.nLayers + 40 * headChunks + 256, externalTensors: 4 * nParams + 8 }));
    const grads = kind === 'train' || kind === 'value';
    if (grads && !opts.gradAccumulators) throw new GrpoError('engine', `a ${kind} graph needs the optimizer gradient accumulators`);
    const tape = new Tape(g, grads ? accumulateInto(g, opts.gradAccumulators!) : null);
    // LoRA dropout acts in training only (PEFT's train mode); scoring passes see the whole adapter
    this.dropout = kind === 'train' ? opts.lora?.settings.dropout ?? 0 : 0;
    const mask = this.dropout > 0 ? (x: Tensor) => this.dropoutMasks[this.dropoutMasks.push(g.input('f32', [...x.ne], `lora_dropout_${this.dropoutMasks.length}`)) - 1] : null;
    const proj = new Projection(kind === 'train' ? opts.copies.withTransposed() : opts.copies, opts.lora ?? null, mask);
    this.tokens = g.input('i32', [N], 'tokens');
    this.positions = g.input('i32', [N], 'positions');
    this.mask = g.input('f32', [T, T], 'causal_mask');

    const block = (t: Tape, layer: LayerWeights, xin: Tensor) => transformerBlock(t, proj, layer, xin, this.positions, (q, k, v) => causalAttention(t, q, k, v, { B, T, mask: this.mask }, c), c);
    let x = embedding(tape, weights.embed, this.tokens); // [dim, N]
    for (const layer of weights.layers) {
      x = opts.recompute && tape.recording ? recomputed(tape, x, layerTensors(layer, opts.lora ?? null), (t, xin) => block(t, layer, xin)) : block(tape, layer, x);
    }
    const hidden = rmsNorm(tape, x, weights.finalNorm, c.normEps);
    if (kind === 'logits') {
      this.logits = g.output(g.ops.matmul(opts.copies.forward(weights.lmHead), hidden));
      g.expand(this.logits);
      g.allocate();
      return;
    }
    this.targets = g.input('i32', [N], 'flat_targets');
    const targets = { flat: this.targets, ids: () => (this.targetIds ??= g.input('i32', [N], 'target_ids')) };
    const head = tokenLogProbs(tape, proj, weights.lmHead, hidden, targets, { temperature: opts.temperature, entropy: opts.entropy, chunkElements: opts.headChunkElements });
    this.logp = g.output(head.logp);
    if (head.entropy) this.entropy = g.output(head.entropy);
    if (weights.valueHead) this.values = g.output(tokenValues(tape, weights.valueHead, hidden));
    for (const t of [this.logp, this.entropy, this.values]) if (t) g.expand(t);
    if (grads) {
      g.beginBackward();
      // a coefficient input exists only where something trainable lies under its output
      const seed = (output: Tensor | undefined, name: string) => {
        if (!output || !tape.needs(output)) return undefined;
        const coef = g.input('f32', [1, N], name);
        tape.seed(output, coef);
        return coef;
      };
      this.coefLogp = seed(this.logp, 'coef_logp');
      this.coefValue = seed(this.values, 'coef_value');
      this.coefEntropy = seed(this.entropy, 'coef_entropy');
      tape.backward();
    }
    g.allocate();
  }

  /**
   * Upload a padded batch: rows of `tokens` are sequences, `targets` the token to score at each position; `rng`
   * draws the LoRA dropout masks of a train graph (inverted dropout: kept entries are 1/(1 − p)).
   */
  writeInputs(tokens: Int32Array, targets?: Int32Array, rng?: Rng): void {
    const pos = new Int32Array(this.N);
    for (let i = 0; i < this.N; i++) pos[i] = i % this.T;
    this.tokens.write(tokens);
    this.positions.write(pos);
    this.mask.write(causalMask(this.T));
    if (this.targets) {
      if (!targets) throw new GrpoError('engine', 'this graph scores targets; pass them');
      this.targets.write(flatTargets(targets, this.weights.config.vocabSize, this.headChunkElements));
      this.targetIds?.write(targets);
    }
    if (this.dropoutMasks.length && !rng) throw new GrpoError('engine', 'this graph has LoRA dropout: pass the dropout RNG');
    const keep = 1 / (1 - this.dropout);
    for (const m of this.dropoutMasks) m.write(Float32Array.from({ length: m.numel }, () => (rng!.next() < this.dropout ? 0 : keep)));
  }

  free(): void {
    this.graph.free();
  }
}

/** Every tensor a layer's forward reads as a weight: its parameters and their LoRA adapters. */
function layerTensors(layer: LayerWeights, lora: LoraAdapters | null): Tensor[] {
  const own = Object.values(layer).filter((t): t is Tensor => t !== undefined);
  return own.concat(own.flatMap((w) => { const a = lora?.of(w); return a ? [a.a, a.b] : []; }));
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
