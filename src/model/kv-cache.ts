/**
 * Key/value cache for batched decoding: per layer, K as [headDim, kvHeads, context, slots] and V transposed as
 * [context, headDim, kvHeads, slots] (as llama.cpp's v_trans), so attention reads both without a copy.
 * All slots advance together: prompts are left-padded, and each slot's padding is masked out.
 */
import { TensorStore } from '../engine/store.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { Backend } from '../engine/backend.ts';
import type { LlamaConfig } from './config.ts';
import { GrpoError } from '../errors.ts';

export class KvCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  private readonly store: TensorStore;

  constructor(
    readonly config: LlamaConfig,
    backend: Backend,
    readonly slots: number,
    readonly context: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1)
      throw new GrpoError('config', `KV cache needs at least one slot, got ${slots}`);
    if (!Number.isInteger(context) || context < 1)
      throw new GrpoError('config', `KV cache context must be a positive integer, got ${context}`);
    const bytes = 2 * config.nLayers * config.headDim * config.nKvHeads * context * slots * 4;
    if (bytes > 2 ** 40)
      throw new GrpoError(
        'config',
        `KV cache of ${slots} slots × ${context} positions would need ${(bytes / 2 ** 30).toFixed(0)} GiB`,
      );
    this.store = new TensorStore(config.nLayers * 2, 'kv cache');
    for (let l = 0; l < config.nLayers; l++) {
      this.k.push(this.store.declare('f32', [config.headDim, config.nKvHeads, context, slots], `cache_k.${l}`));
      this.v.push(this.store.declare('f32', [context, config.headDim, config.nKvHeads, slots], `cache_v.${l}`));
    }
    this.store.allocate(backend);
  }

  get byteSize(): number {
    return this.store.byteSize;
  }

  free(): void {
    this.store.free();
  }
}
