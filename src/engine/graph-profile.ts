/**
 * Where a graph's time goes, op by op (the breakdown behind docs/performance.md): every node of a part of a CPU graph
 * is computed on its own, in order, and timed. Each node then reads exactly what it reads in a whole compute (the
 * graph keeps its memory plan), so the sum is the part's compute time plus a small per-node dispatch overhead, which
 * the caller can measure against a whole compute. ggml's prebuilt CPU backend has no op profiler of its own.
 */
import { ggml, koffi, type Ptr } from './ffi.ts';
import { Context } from './context.ts';
import { sourcesOf } from './scheduler.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

/** Field offsets (ggml.h / ggml-impl.h of the pinned ggml, 64-bit): ggml_tensor.ne, ggml_cgraph.n_nodes and .nodes. */
const NE = 16,
  N_NODES = 4,
  NODES = 16;

export interface NodeTiming {
  /** ggml's op name: MUL_MAT, SOFT_MAX, … */
  op: string;
  /** the node's name, and the names of the named tensors it reads within three ops (weights carry their Hugging Face names) */
  name: string;
  reads: string[];
  ne: number[];
  ms: number;
}

/** Ops that compute nothing (views of memory): timed as 0 without a dispatch. */
const VIEWS = new Set(['NONE', 'VIEW', 'RESHAPE', 'PERMUTE', 'TRANSPOSE']);

/** Compute `nodes` (of an allocated CPU graph) one at a time, timing each. */
export function profileNodes(backend: Backend, nodes: Ptr[]): NodeTiming[] {
  if (!backend.isCpu) throw new GrpoError('engine', 'op profiles are measured on the CPU backend');
  const ctx = new Context(0, 1);
  try {
    const one: Ptr = ggml.new_graph_custom(ctx.ptr, 1, false);
    const slot = koffi.decode(one, NODES, 'void *') as Ptr;
    const nameOf = (t: Ptr) => (ggml.get_name(t) as string | null) ?? '';
    // ggml names an unnamed op's result "node_…" or "… (view)": only names given by us count
    const named = (t: Ptr) => {
      const n = nameOf(t);
      return n && !/^node_\d+$|\(/.test(n) ? n : null;
    };
    const reads = (t: Ptr, depth: number, out: Set<string>): Set<string> => {
      for (const src of sourcesOf(t)) {
        const n = named(src);
        if (n) out.add(n);
        else if (depth > 1) reads(src, depth - 1, out);
      }
      return out;
    };
    return nodes.map((node) => {
      const op = ggml.op_desc(node) as string;
      let ms = 0;
      if (!VIEWS.has(op)) {
        koffi.encode(slot, 0, 'void *', node);
        koffi.encode(one, N_NODES, 'int', 1);
        const t0 = performance.now();
        const status = ggml.backend_graph_compute(backend.ptr, one);
        ms = performance.now() - t0;
        if (status !== 0)
          throw new GrpoError('engine', `ggml compute of node ${nameOf(node)} failed with status ${status}`);
      }
      const ne = [0, 1, 2, 3].map((i) => Number(koffi.decode(node, NE + 8 * i, 'int64_t')));
      return { op, name: nameOf(node), reads: [...reads(node, 3, new Set())], ne, ms };
    });
  } finally {
    ctx.free();
  }
}
