/**
 * The parameters of a Llama-family model as ggml tensors in one backend buffer, named as in Hugging Face
 * checkpoints (see host-tensor.ts). A HF weight of shape [out, in] is uploaded as a ggml tensor with
 * ne = [in, out], which is what ggml_mul_mat(W, x) expects.
 *
 * The matrices (projections, embedding, lm_head) are stored in `matrixType`: f32 (trainable), or a frozen
 * low-precision base for LoRA — bf16, or q8_0 (ggml's 8-bit blocks, QLoRA-style). Norm gains, biases and the
 * value head are always f32.
 */
import { TensorStore } from '../engine/store.ts';
import { BLOCK_ELEMENTS, type Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import { validateConfig, type LlamaConfig } from './config.ts';
import { hostTensor, lazyHostTensor, type WeightMap } from './host-tensor.ts';
import { readHost, writeHost } from './host-transfer.ts';
import { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export type MatrixType = 'f32' | 'bf16' | 'q8_0';

export interface LayerWeights {
  attnNorm: Tensor;
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
  bq?: Tensor;
  bk?: Tensor;
  bv?: Tensor;
  qNorm?: Tensor;
  kNorm?: Tensor;
  ffnNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

export const VALUE_HEAD = 'value_head.weight';

export class LlamaWeights {
  readonly embed: Tensor;
  readonly layers: LayerWeights[] = [];
  readonly finalNorm: Tensor;
  /** lm_head; the embedding matrix itself when tied */
  readonly lmHead: Tensor;
  /** scalar value head on the final hidden state (PPO critic on the policy trunk, as Open-Reasoner-Zero) */
  readonly valueHead?: Tensor;
  /** HF name → tensor, every parameter once */
  readonly byName = new Map<string, Tensor>();
  /** bumped whenever the weights are overwritten from the host (optimizer steps are counted by the optimizer) */
  version = 0;
  readonly matrixType: MatrixType;
  private readonly store: TensorStore;

  constructor(
    readonly config: LlamaConfig,
    backend: Backend,
    opts: { valueHead?: boolean; matrixType?: MatrixType } = {},
  ) {
    validateConfig(config);
    const c = config;
    const q = c.nHeads * c.headDim,
      kv = c.nKvHeads * c.headDim;
    const matrixType = (this.matrixType = opts.matrixType ?? 'f32');
    if (c.dim % BLOCK_ELEMENTS[matrixType] || c.ffnDim % BLOCK_ELEMENTS[matrixType] || q % BLOCK_ELEMENTS[matrixType]) {
      throw new GrpoError(
        'config',
        `a ${matrixType} base needs hidden size, intermediate size and heads × head dim to be multiples of ${BLOCK_ELEMENTS[matrixType]}; this model has ${c.dim}, ${c.ffnDim}, ${q}: use base_precision bf16`,
      );
    }
    this.store = new TensorStore(c.nLayers * 16 + 8, 'model weights');
    // hf shape [out, in] → ggml ne [in, out]
    const P = (name: string, hfShape: number[], dtype: 'f32' | MatrixType = 'f32'): Tensor => {
      const t = this.store.declare(dtype, [...hfShape].reverse(), name);
      this.byName.set(name, t);
      return t;
    };
    const M = (name: string, hfShape: number[]) => P(name, hfShape, matrixType);
    this.embed = M('model.embed_tokens.weight', [c.vocabSize, c.dim]);
    for (let i = 0; i < c.nLayers; i++) {
      const pre = `model.layers.${i}.`;
      this.layers.push({
        attnNorm: P(pre + 'input_layernorm.weight', [c.dim]),
        wq: M(pre + 'self_attn.q_proj.weight', [q, c.dim]),
        wk: M(pre + 'self_attn.k_proj.weight', [kv, c.dim]),
        wv: M(pre + 'self_attn.v_proj.weight', [kv, c.dim]),
        wo: M(pre + 'self_attn.o_proj.weight', [c.dim, q]),
        ...(c.qkvBias
          ? {
              bq: P(pre + 'self_attn.q_proj.bias', [q]),
              bk: P(pre + 'self_attn.k_proj.bias', [kv]),
              bv: P(pre + 'self_attn.v_proj.bias', [kv]),
            }
          : {}),
        ...(c.qkNorm
          ? {
              qNorm: P(pre + 'self_attn.q_norm.weight', [c.headDim]),
              kNorm: P(pre + 'self_attn.k_norm.weight', [c.headDim]),
            }
          : {}),
        ffnNorm: P(pre + 'post_attention_layernorm.weight', [c.dim]),
        gate: M(pre + 'mlp.gate_proj.weight', [c.ffnDim, c.dim]),
        up: M(pre + 'mlp.up_proj.weight', [c.ffnDim, c.dim]),
        down: M(pre + 'mlp.down_proj.weight', [c.dim, c.ffnDim]),
      });
    }
    this.finalNorm = P('model.norm.weight', [c.dim]);
    this.lmHead = c.tieEmbeddings ? this.embed : M('lm_head.weight', [c.vocabSize, c.dim]);
    if (opts.valueHead) this.valueHead = P(VALUE_HEAD, [1, c.dim]);
    this.store.allocate(backend);
  }

  /** Every parameter tensor (tied embeddings once). */
  get parameters(): Tensor[] {
    return [...this.byName.values()];
  }

  get parameterCount(): number {
    return this.parameters.reduce((n, t) => n + t.numel, 0);
  }

  get byteSize(): number {
    return this.store.byteSize;
  }

  /**
   * Random initialisation: N(0, 0.02²) for matrices (GPT-2 / Llama practice), residual output projections
   * (o_proj, down_proj) scaled by 1/sqrt(2·layers) (GPT-2 §2.3), norm gains 1, biases and the value head 0.
   */
  initRandom(seed: number): void {
    this.version++;
    const rng = new Rng(seed);
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayers);
    for (const [name, t] of this.byName) {
      if (name.endsWith('norm.weight')) t.write(new Float32Array(t.numel).fill(1));
      else if (name.endsWith('.bias') || name === VALUE_HEAD) t.write(new Float32Array(t.numel));
      else writeHost(t, rng.normalArray(t.numel, /o_proj|down_proj/.test(name) ? residualStd : 0.02));
    }
  }

  /** Upload HF-layout host weights. Every parameter must be present with its exact shape. */
  load(weights: WeightMap, opts: { allowMissingValueHead?: boolean } = {}): void {
    this.version++;
    for (const [name, t] of this.byName) {
      const w = weights.get(name);
      if (!w) {
        if (name === VALUE_HEAD && (opts.allowMissingValueHead ?? true)) {
          t.write(new Float32Array(t.numel));
          continue;
        }
        throw new GrpoError(
          'weights',
          `checkpoint has no tensor '${name}' that a ${this.config.arch} model with this config needs`,
        );
      }
      const want = [...t.ne].slice(0, w.shape.length).reverse();
      if (
        w.shape.length > 4 ||
        w.shape.some((d, i) => d !== want[i]) ||
        w.shape.reduce((a, b) => a * b, 1) !== t.numel
      ) {
        throw new GrpoError(
          'weights',
          `tensor '${name}' has shape [${w.shape.join(', ')}], the config needs [${want.join(', ')}]`,
        );
      }
      // one tensor's data at a time: a lazily read checkpoint streams through without a whole host copy
      writeHost(t, w.data);
    }
  }

  /** Download every parameter to HF-layout float32 host tensors. */
  save(): WeightMap {
    return new Map([...this.streamed()].map(([name, t]) => [name, hostTensor(t.shape, t.data)]));
  }

  /**
   * Every parameter as an HF-layout host tensor read from the device (as float32) each time its `data` is
   * accessed: checkpoint writers stream them to disk one at a time instead of holding a host copy of the model.
   */
  streamed(): WeightMap {
    const out: WeightMap = new Map();
    for (const [name, t] of this.byName) {
      let k = 4;
      while (k > 1 && t.ne[k - 1] === 1) k--;
      // a [1, dim] value head keeps both dims
      const ne = name === VALUE_HEAD ? [t.ne[0], 1] : t.ne.slice(0, k);
      out.set(
        name,
        lazyHostTensor([...ne].reverse(), () => readHost(t)),
      );
    }
    return out;
  }

  free(): void {
    this.store.free();
  }
}
