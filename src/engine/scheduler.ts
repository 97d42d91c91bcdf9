/**
 * One graph computed by `ggml_backend_sched` over a GPU backend and the CPU: the scheduler splits the graph
 * into runs of ops per backend, puts every op the GPU backend lacks on the CPU, and copies tensors across the
 * host boundary where a run of one backend reads a tensor of the other. This is how llama.cpp runs partly
 * offloaded models; here it makes a GPU backend that lacks an op slower instead of unusable.
 *
 * `graph` may be a slice of a larger graph (the forward or backward part of a training graph, see graph.ts); every
 * tensor its nodes read from outside it must then be one of its leafs (`appendLeafs`), or the scheduler neither
 * places nor counts it.
 */
import { ggml, koffi, type Ptr } from './ffi.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

/** Field offsets in `struct ggml_tensor` (ggml.h, 64-bit): buffer, op, src[10], view_src. */
const BUFFER = 8,
  OP = 80,
  SRC = 152,
  MAX_SRC = 10,
  VIEW_SRC = 232;
/** Field offsets in `struct ggml_cgraph` (ggml-impl.h of the pinned ggml, 64-bit): size, n_leafs, leafs. */
const SIZE = 0,
  N_LEAFS = 8,
  LEAFS = 40;
const GGML_OP_NONE = 0;

const pointerAt = (tensor: Ptr, offset: number): Ptr | null => koffi.decode(tensor, offset, 'void *') as Ptr | null;

/** The buffer holding a tensor's memory (a view's is its source's); null before allocation. */
export function bufferOf(tensor: Ptr): Ptr | null {
  const viewSrc = pointerAt(tensor, VIEW_SRC);
  return pointerAt(viewSrc ?? tensor, BUFFER);
}

/** Whether a tensor already has memory: a store's weight, a cache, or a node of a part already allocated. */
export const hasMemory = (tensor: Ptr): boolean => bufferOf(tensor) !== null;

/** The tensors an op reads. */
export function sourcesOf(node: Ptr): Ptr[] {
  const out: Ptr[] = [];
  for (let j = 0; j < MAX_SRC; j++) {
    const src = pointerAt(node, SRC + 8 * j);
    if (src) out.push(src);
  }
  return out;
}

/** Ops named in GRPO_CPU_OPS (ggml names, comma-separated) run on the CPU even where the GPU has them. */
export function cpuOpsSetting(value = process.env.GRPO_CPU_OPS): Set<string> {
  return new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean),
  );
}

/** The nodes of a graph, in order. */
export function graphNodes(graph: Ptr, i0 = 0, i1: number = ggml.graph_n_nodes(graph)): Ptr[] {
  return Array.from({ length: i1 - i0 }, (_, i) => ggml.graph_node(graph, i0 + i) as Ptr);
}

/**
 * Make every tensor that `graph`'s nodes read from outside it a leaf of it, as ggml_build_forward_expand would
 * have, and return them. ggml has no call that adds a leaf (a graph slice is built with ggml_graph_add_node), so
 * this writes the graph's leaf list; `graph` must have room (it is sized to all tensors of its context and the
 * outside ones).
 */
export function appendLeafs(graph: Ptr): Ptr[] {
  const nodes = graphNodes(graph);
  const seen = new Set(nodes.map((n) => koffi.address(n)));
  const leafs = pointerAt(graph, LEAFS)!;
  const size = koffi.decode(graph, SIZE, 'int') as number;
  let n = koffi.decode(graph, N_LEAFS, 'int') as number;
  const outside: Ptr[] = [];
  for (const node of nodes) {
    for (const src of sourcesOf(node)) {
      if (seen.has(koffi.address(src))) continue;
      seen.add(koffi.address(src));
      if (n >= size)
        throw new GrpoError(
          'engine',
          `a graph slice reads more outside tensors than its ${size} leaf slots (raise externalTensors)`,
        );
      koffi.encode(leafs, 8 * n++, 'void *', src);
      outside.push(src);
    }
  }
  koffi.encode(graph, N_LEAFS, 'int', n);
  return outside;
}

export class ScheduledGraph {
  private readonly sched: Ptr;
  private readonly backends: Ptr[];
  private freed = false;

  constructor(
    private readonly graph: Ptr,
    gpu: Backend,
    cpu: Backend,
    size: number,
    cpuOps: ReadonlySet<string> = cpuOpsSetting(),
  ) {
    this.backends = [gpu.ptr, cpu.ptr];
    // room for the graph, the outside tensors it reads and the scheduler's own copies of split inputs
    this.sched = ggml.sched_new(this.backends, null, 2, size * 2, false, false);
    if (!this.sched) throw new GrpoError('engine', 'could not create a ggml scheduler');
    this.place(cpuOps);
    if (!ggml.sched_alloc_graph(this.sched, graph)) {
      this.free();
      throw new GrpoError('engine', `could not allocate the compute graph on ${gpu.name} and the CPU (out of memory?)`);
    }
  }

  /** a user override: ops the GPU must not compute (a view follows its source; memory already placed stays) */
  private place(cpuOps: ReadonlySet<string>): void {
    if (cpuOps.size === 0) return;
    for (const node of graphNodes(this.graph)) {
      if (
        !hasMemory(node) &&
        koffi.decode(node, OP, 'int') !== GGML_OP_NONE &&
        cpuOps.has(ggml.op_desc(node) as string)
      ) {
        ggml.sched_set_tensor_backend(this.sched, node, this.backends[1]);
      }
    }
  }

  /** runs of consecutive ops on one backend; 1 when the GPU computes everything */
  get splits(): number {
    return ggml.sched_get_n_splits(this.sched);
  }

  /** bytes of the scheduler's compute buffers on both backends */
  get allocatedBytes(): number {
    return this.backends.reduce((sum, b) => sum + Number(ggml.sched_get_buffer_size(this.sched, b)), 0);
  }

  compute(): void {
    if (this.freed) throw new GrpoError('engine', 'compute on a freed graph');
    const status = ggml.sched_graph_compute(this.sched, this.graph);
    if (status !== 0) throw new GrpoError('engine', `ggml graph compute failed with status ${status}`);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    ggml.sched_free(this.sched);
  }
}
