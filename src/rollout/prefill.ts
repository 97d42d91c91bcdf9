/**
 * Prefill: feeding several tokens of each sequence in one compute — a request's prompts when it joins the batch,
 * what resume() appended to a paused multi-turn sequence — in a scratch KV cache of their own, whose slots the
 * decoder then copies into its cache. Runs are right-padded to a common length by repeating their last token, which
 * keeps every run's positions its own; the padding's cache entries are overwritten by the tokens decoded after it
 * before any query can see them. Runs are at least two tokens long and the scratch's context is whole blocks of 64
 * positions, so that a run's sums do not depend on the others (../model/batch-invariance.ts). The decoding step
 * shares the decode-graph builder and the one-thread rule for small computes defined here.
 */
import { KvCache } from '../model/kv-cache.ts';
import { DecodeGraph, type DecodeShape } from '../model/decode-graph.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import type { WeightCopies } from '../model/weight-copies.ts';
import { MIN_PREFILL_TOKENS, spanBlocks } from '../model/batch-invariance.ts';

/** What a decoder computes with: the model's weights (f32, or BF16 copies), with or without its LoRA adapters. */
export interface DecodeWeights {
  model: LlamaModel;
  copies: WeightCopies;
  adapters: boolean;
}

/** A decode graph that returns each slot's sampling distribution, softmax(logits / T). */
export function probabilityGraph(w: DecodeWeights, cache: KvCache, shape: DecodeShape): DecodeGraph {
  return new DecodeGraph(
    w.model.backend,
    w.model.weights,
    cache,
    shape,
    w.copies,
    w.adapters ? w.model.lora : null,
    'probabilities',
  );
}

/**
 * Small computes run faster on one thread: below ~32 MFLOP of weight matmuls, ggml's per-op thread barriers
 * cost more than the split saves (measured on 2 cores: stories260K at batch 16 decodes 12.7k tokens/s on one
 * thread, 3.3k on two; a 50M model at batch 1 gains from two).
 */
export function withThreads<T>(model: LlamaModel, rows: number, compute: () => T): T {
  const backend = model.backend,
    threads = backend.threadCount;
  if (2 * model.weights.parameterCount * rows < 32e6) backend.setThreads(1);
  try {
    return compute();
  } finally {
    backend.setThreads(threads);
  }
}

/** Token runs to prefill, run i in scratch slot i. */
export interface PrefillRuns {
  runs: number[][];
  /** the cache index of each run's first token: one for all runs, or one per run */
  start: number | number[];
  /** per run, 1 / temperature of its sampling distribution */
  inverseTemperatures: number[];
}

export interface PrefillSteps {
  /** before the compute: copy into the scratch what the runs attend to before their start */
  seed?: (scratch: KvCache) => void;
  /** after it: `probabilities` holds row i, the sampling distribution after run i's last token */
  use: (scratch: KvCache, probabilities: Float32Array) => void;
}

/** Prefill `runs` in a scratch cache of their own, freed once `steps.use` has taken what it needs. */
export function prefill(w: DecodeWeights, p: PrefillRuns, steps: PrefillSteps): void {
  const S = p.runs.length;
  const L = Math.max(MIN_PREFILL_TOKENS, ...p.runs.map((r) => r.length));
  const context = spanBlocks((typeof p.start === 'number' ? p.start : Math.max(...p.start)) + L);
  const scratch = new KvCache(w.model.config, w.model.backend, S, context);
  let graph: DecodeGraph | null = null;
  try {
    steps.seed?.(scratch);
    graph = probabilityGraph(w, scratch, { nNew: L, span: context, slots: S, slotStride: 1 });
    graph.write(
      Int32Array.from(p.runs.flatMap((r) => [...r, ...new Array<number>(L - r.length).fill(r[r.length - 1])])),
      new Int32Array(S),
      p.start,
      p.runs.map((r) => r.length),
      p.inverseTemperatures,
    );
    const g = graph;
    steps.use(
      scratch,
      withThreads(w.model, L * S, () => g.compute()),
    );
  } finally {
    graph?.free();
    scratch.free();
  }
}
