/**
 * LoRA merged into the base: W' = W + s·B·A for every adapted projection (PEFT's merge_and_unload), computed on the
 * device one matrix at a time when the merged tensor's data is read, so `grpo merge` streams a model to disk.
 * Exact when the base is held in f32.
 */
import { ComputeGraph } from '../engine/graph.ts';
import type { LlamaModel } from './llama-model.ts';
import { lazyHostTensor, type WeightMap } from './host-tensor.ts';
import { readHost } from './host-transfer.ts';
import { VALUE_HEAD } from './llama-weights.ts';
import { GrpoError } from '../errors.ts';

/** Sees each adapted matrix as it is merged: the base's values and the merged ones (f32, HF layout). */
export type MergeObserver = (name: string, base: Float32Array, merged: Float32Array) => void;

export function mergedWeights(model: LlamaModel, observe?: MergeObserver): WeightMap {
  const lora = model.lora;
  if (!lora) throw new GrpoError('config', 'this model has no LoRA adapters to merge');
  const out = model.weights.streamed();
  out.delete(VALUE_HEAD);
  for (const [name, w] of model.weights.byName) {
    const adapter = lora.of(w);
    if (!adapter) continue;
    const base = out.get(name)!;
    out.set(
      name,
      lazyHostTensor(base.shape, () => {
        // ΔW in ggml layout [in, out] = Aᵀ(ne [r, in]) contracted with B (ne [r, out]) over r
        const g = new ComputeGraph(model.backend, { maxNodes: 16, externalTensors: 3 });
        try {
          const o = g.ops;
          const w32 = w.dtype === 'f32' ? w : o.cast(w, 'f32');
          const sum = g.output(o.add(w32, o.scale(o.matmul(o.cont(o.transpose(adapter.a)), adapter.b), lora.scale)));
          g.expand(sum);
          g.allocate();
          g.compute();
          const merged = readHost(sum);
          observe?.(name, base.data, merged);
          return merged;
        } finally {
          g.free();
        }
      }),
    );
  }
  return out;
}
