/**
 * LoRA adapters (Hu et al. 2021) on the projection matrices of a frozen base, with PEFT's names, defaults and
 * initialisation, so adapters move between grpo-ts, transformers/PEFT and vLLM unchanged:
 *   y = W·x + s·B·(A·dropout(x)),  s = alpha / r  (rsLoRA, Kalajdzievski 2023: alpha / √r)
 * A is [r, in] (Kaiming-uniform with a = √5, i.e. U(±1/√in), as PEFT's default init), B is [out, r] (zeros), so a
 * new adapter leaves the model unchanged. Tensor names are PEFT's saved names:
 *   base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight   (and lora_B)
 * The adapters are f32 and trainable; the base stays frozen in whatever precision it is held in.
 */
import { TensorStore } from '../engine/store.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaWeights } from './llama-weights.ts';
import { hostTensor, type WeightMap } from './host-tensor.ts';
import { Rng } from '../util/rng.ts';
import type { LlamaConfig } from './config.ts';
import { expectedWeightShapes } from './io/weight-names.ts';
import { GrpoError } from '../errors.ts';

/** PEFT's module names of the Llama family's projections (all are targeted by default). */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraOptions {
  /** rank (default 16; PEFT's own default is 8, TRL's GRPO examples use 16 with alpha 32) */
  r?: number;
  /** scaling numerator (default 32) */
  alpha?: number;
  /** dropout on the adapter input during training (default 0) */
  dropout?: number;
  /** projections that get an adapter (default all seven) */
  targetModules?: readonly string[];
  /** scale by alpha/√r instead of alpha/r (rsLoRA) */
  useRslora?: boolean;
}

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: LoraTarget[];
  useRslora: boolean;
}

export function loraSettings(o: LoraOptions = {}): LoraSettings {
  const r = o.r ?? 16;
  const s: LoraSettings = {
    r,
    alpha: o.alpha ?? 32,
    dropout: o.dropout ?? 0,
    targetModules: [...(o.targetModules ?? LORA_TARGETS)] as LoraTarget[],
    useRslora: o.useRslora ?? false,
  };
  if (!Number.isInteger(r) || r < 1) throw new GrpoError('config', `lora r must be a positive integer, got ${r}`);
  if (!(s.alpha > 0)) throw new GrpoError('config', `lora alpha must be > 0, got ${s.alpha}`);
  if (!(s.dropout >= 0 && s.dropout < 1))
    throw new GrpoError('config', `lora dropout must lie in [0, 1), got ${s.dropout}`);
  for (const m of s.targetModules) {
    if (!(LORA_TARGETS as readonly string[]).includes(m))
      throw new GrpoError('config', `lora target_modules: '${m}' is not one of ${LORA_TARGETS.join(', ')}`);
  }
  if (s.targetModules.length === 0)
    throw new GrpoError('config', 'lora target_modules is empty: name at least one of ' + LORA_TARGETS.join(', '));
  return s;
}

/**
 * New adapters' rank against the model's shapes: B·A has rank at most min(in, out), so an r past a target matrix's
 * smaller side adds nothing and only costs memory — a typo, refused as a config error. (PEFT accepts it, and an
 * adapter file with such an r still loads.)
 */
export function checkLoraRank(config: LlamaConfig, options: LoraOptions): void {
  const s = loraSettings(options);
  const targets = [...expectedWeightShapes({ ...config, nLayers: 1 })].filter(([name]) =>
    (s.targetModules as string[]).includes(/\.(\w+_proj)\.weight$/.exec(name)?.[1] ?? ''),
  );
  const side = ([, shape]: [string, number[]]) => Math.min(shape[0], shape[1]);
  const bad = targets.find((t) => s.r > side(t));
  if (!bad) return;
  throw new GrpoError(
    'config',
    `'model.lora.r' ${s.r} exceeds the smaller side of '${bad[0]}' [${bad[1].join(', ')}] (B·A has rank at most ${side(bad)} there); set model.lora.r ≤ ${Math.min(...targets.map(side))}, or leave that projection out of model.lora.target_modules`,
  );
}

export interface Adapter {
  /** ggml [in, r]: HF lora_A [r, in] */
  a: Tensor;
  /** ggml [r, out]: HF lora_B [out, r] */
  b: Tensor;
}

/** The PEFT name prefix of a base weight: model.layers.0.self_attn.q_proj.weight → base_model.model.model.layers.0.self_attn.q_proj */
export function peftPrefix(baseWeightName: string): string {
  return 'base_model.model.' + baseWeightName.replace(/\.weight$/, '');
}

export class LoraAdapters {
  readonly settings: LoraSettings;
  /** s = alpha/r, or alpha/√r with rsLoRA */
  readonly scale: number;
  /** PEFT name → tensor, every adapter tensor once */
  readonly byName = new Map<string, Tensor>();
  private readonly adapters = new Map<Tensor, Adapter>();
  private readonly store: TensorStore;

  constructor(
    readonly weights: LlamaWeights,
    backend: Backend,
    options: LoraOptions = {},
  ) {
    const s = (this.settings = loraSettings(options));
    this.scale = s.useRslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
    const targets: [string, Tensor][] = [];
    for (const [name, t] of weights.byName) {
      const module = /\.(\w+_proj)\.weight$/.exec(name)?.[1];
      if (module && (s.targetModules as string[]).includes(module)) targets.push([name, t]);
    }
    this.store = new TensorStore(2 * targets.length, 'lora adapters');
    for (const [name, w] of targets) {
      const [inF, outF] = [w.ne[0], w.ne[1]];
      const prefix = peftPrefix(name);
      const a = this.store.declare('f32', [inF, s.r], `${prefix}.lora_A.weight`);
      const b = this.store.declare('f32', [s.r, outF], `${prefix}.lora_B.weight`);
      this.byName.set(a.name, a);
      this.byName.set(b.name, b);
      this.adapters.set(w, { a, b });
    }
    this.store.allocate(backend);
  }

  /** The adapter on base weight w, if it has one. */
  of(w: Tensor): Adapter | undefined {
    return this.adapters.get(w);
  }

  get parameters(): Tensor[] {
    return [...this.byName.values()];
  }

  get parameterCount(): number {
    return this.parameters.reduce((n, t) => n + t.numel, 0);
  }

  /** PEFT's default initialisation: A ~ U(±1/√in) (Kaiming-uniform, a = √5), B = 0. */
  initPeft(seed: number): void {
    const rng = new Rng(seed);
    for (const { a, b } of this.adapters.values()) {
      const bound = 1 / Math.sqrt(a.ne[0]);
      a.write(Float32Array.from({ length: a.numel }, () => (2 * rng.next() - 1) * bound));
      b.write(new Float32Array(b.numel));
    }
  }

  /** Load PEFT-named tensors (every adapter tensor must be present with its PEFT shape). */
  load(tensors: WeightMap): void {
    for (const [name, t] of this.byName) {
      const w = tensors.get(name) ?? tensors.get(name.replace(/\.weight$/, '.default.weight'));
      if (!w)
        throw new GrpoError(
          'weights',
          `adapter has no tensor '${name}' (r ${this.settings.r}, targets ${this.settings.targetModules.join(', ')})`,
        );
      const want = [t.ne[1], t.ne[0]];
      if (w.shape.length !== 2 || w.shape[0] !== want[0] || w.shape[1] !== want[1]) {
        throw new GrpoError(
          'weights',
          `adapter tensor '${name}' has shape [${w.shape.join(', ')}], this model needs [${want.join(', ')}]`,
        );
      }
      t.write(w.data);
    }
  }

  /** PEFT-named, PEFT-shaped host tensors (A [r, in], B [out, r]). */
  save(): WeightMap {
    return new Map([...this.byName].map(([name, t]) => [name, hostTensor([t.ne[1], t.ne[0]], t.readF32())]));
  }

  free(): void {
    this.store.free();
  }
}
