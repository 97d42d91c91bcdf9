/**
 * Where every tensor of a CPU graph lives: a plan of offsets in one buffer, made here instead of by ggml's graph
 * allocator. ggml_gallocr keeps at most 256 free blocks and aborts the process past them
 * (`GGML_ASSERT(... "out of free blocks")`). A training graph keeps every activation its backward reads, so the
 * temporaries freed between them leave holes; a packed batch with many attention families left more than 256 in a
 * 24-layer model. This planner has no such limit, and follows the same rules:
 * - a tensor is live from the node that computes it to its last reader, in graph order (the backward reads the
 *   forward's activations, so they outlive the forward part);
 * - a view uses its source's memory and keeps the source live as long as the view is read;
 * - graph inputs live for the whole graph, and outputs are never freed;
 * - an op ggml can compute in place may take the memory of a source of the same size that this op reads last;
 * - a freed block is merged with its neighbours, and an allocation takes the smallest free block that fits, else
 *   grows the buffer.
 * Tensors that already have memory (weights, caches, accumulators) are left where they are.
 */
import { ggml, koffi, type Ptr } from './ffi.ts';
import { sourcesOf } from './scheduler.ts';

/** Field offsets in `struct ggml_tensor` (ggml.h of the pinned ggml, 64-bit). */
const BUFFER = 8,
  FLAGS = 148,
  VIEW_SRC = 232;
const FLAG_INPUT = 1,
  FLAG_OUTPUT = 2;
/**
 * ggml_op_can_inplace of ggml-alloc.c: ops whose kernels may write into a source, by ggml_op_desc — which names a
 * GGML_OP_UNARY node by its unary op (SILU, EXP, …), so those names stand here for UNARY
 */
const IN_PLACE = new Set([
  'SCALE',
  'ADD',
  'SUB',
  'MUL',
  'DIV',
  'SQR',
  'SQRT',
  'LOG',
  ...[
    'ABS',
    'SGN',
    'NEG',
    'STEP',
    'TANH',
    'ELU',
    'RELU',
    'SIGMOID',
    'GELU',
    'GELU_QUICK',
    'SILU',
    'HARDSWISH',
    'HARDSIGMOID',
    'EXP',
    'GELU_ERF',
  ],
  'ROPE',
  'ROPE_BACK',
  'SILU_BACK',
  'RMS_NORM',
  'RMS_NORM_BACK',
  'SOFT_MAX',
]);

const pointerAt = (t: Ptr, offset: number): Ptr | null => koffi.decode(t, offset, 'void *') as Ptr | null;

export interface MemoryPlan {
  /** bytes the buffer needs */
  size: number;
  /** the most free holes the plan held at once (ggml's own allocator aborts past 256) */
  holes: number;
  /** tensors to place, and their offsets in the buffer */
  placed: [Ptr, number][];
  /** views (of placed or outside tensors) that need their memory set once their source has it */
  views: Ptr[];
}

/** Free blocks sorted by offset, merged on free; allocations take the best fit, else grow the top. */
class FreeList {
  private readonly blocks: { offset: number; size: number }[] = [];
  top = 0;
  /** the most free blocks held at once (ggml's allocator holds 256) */
  mostBlocks = 0;

  alloc(size: number): number {
    let best = -1;
    for (let i = 0; i < this.blocks.length; i++) {
      const b = this.blocks[i];
      if (b.size >= size && (best < 0 || b.size < this.blocks[best].size)) best = i;
    }
    if (best < 0) {
      // a free block at the top grows into the new space
      const last = this.blocks[this.blocks.length - 1];
      if (last && last.offset + last.size === this.top) {
        this.blocks.pop();
        this.top = last.offset + size;
        return last.offset;
      }
      const at = this.top;
      this.top += size;
      return at;
    }
    const b = this.blocks[best],
      at = b.offset;
    b.offset += size;
    b.size -= size;
    if (b.size === 0) this.blocks.splice(best, 1);
    return at;
  }

  free(offset: number, size: number): void {
    let i = 0;
    while (i < this.blocks.length && this.blocks[i].offset < offset) i++;
    this.blocks.splice(i, 0, { offset, size });
    this.mostBlocks = Math.max(this.mostBlocks, this.blocks.length);
    // merge with the next, then with the previous
    const next = this.blocks[i + 1];
    if (next && offset + size === next.offset) {
      this.blocks[i].size += next.size;
      this.blocks.splice(i + 1, 1);
    }
    const prev = this.blocks[i - 1];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += this.blocks[i].size;
      this.blocks.splice(i, 1);
    }
  }
}

const key = (t: Ptr) => koffi.address(t);
const flags = (t: Ptr) => koffi.decode(t, FLAGS, 'int32') as number;
const hasBuffer = (t: Ptr) => pointerAt(t, BUFFER) !== null;
/** the tensor whose memory a view (or an op writing into another tensor) uses */
const rootOf = (t: Ptr) => pointerAt(t, VIEW_SRC);

/**
 * Plan the memory of `nodes` (a graph's nodes in compute order) and the inputs they read, for a buffer type with
 * `alignment` and `allocSize(tensor)` bytes per tensor.
 */
export function planGraphMemory(nodes: Ptr[], alignment: number, allocSize: (t: Ptr) => number): MemoryPlan {
  const planner = new MemoryPlanner(nodes, alignment, allocSize);
  planner.placeInputs();
  for (const node of nodes) planner.placeNode(node);
  return planner.plan();
}

/** A plan as it is made, node by node: readers left per tensor, where placed tensors are, the free blocks. */
class MemoryPlanner {
  private readonly computed: Set<bigint>;
  /** readers left per tensor; a view counts as one reader of its source while it is itself read */
  private readonly readers = new Map<bigint, number>();
  private readonly offsets = new Map<bigint, { t: Ptr; offset: number; size: number }>();
  private readonly list = new FreeList();
  private readonly views: Ptr[] = [];

  constructor(
    private readonly nodes: Ptr[],
    private readonly alignment: number,
    private readonly allocSize: (t: Ptr) => number,
  ) {
    this.computed = new Set(nodes.map(key));
    const count = (t: Ptr) => this.readers.set(key(t), (this.readers.get(key(t)) ?? 0) + 1);
    for (const node of nodes) {
      for (const src of sourcesOf(node)) count(src);
      const root = rootOf(node);
      if (root) count(root);
    }
  }

  /** Leafs without memory (the graph's inputs) first, live to the end: written before a compute, read in both parts */
  placeInputs(): void {
    for (const node of this.nodes) {
      for (const src of sourcesOf(node)) {
        if (this.computed.has(key(src)) || this.offsets.has(key(src)) || hasBuffer(src) || rootOf(src)) continue;
        const size = this.sizeOf(src);
        this.place(src, this.list.alloc(size), size);
      }
    }
  }

  /** Place a node (in place of a source where ggml would), then free what it was the last reader of. */
  placeNode(node: Ptr): void {
    if (rootOf(node)) {
      // a view, or an op writing into another tensor's memory (a copy, an in-place add): no memory of its own
      if (!hasBuffer(node)) this.views.push(node);
    } else if (!hasBuffer(node)) {
      const size = this.sizeOf(node);
      const parent = this.inPlaceParent(node, size);
      if (parent) {
        this.readers.set(key(parent), 0); // handed over: its memory is freed as this node's
        this.place(node, this.offsets.get(key(parent))!.offset, size);
      } else this.place(node, this.list.alloc(size), size);
    }
    for (const src of sourcesOf(node)) if ((this.readers.get(key(src)) ?? 0) > 0) this.release(src);
    // a node nothing reads is done at once (a graph's results are outputs, which are never freed)
    if (!this.readers.has(key(node))) this.release(node);
  }

  plan(): MemoryPlan {
    return {
      size: this.list.top,
      holes: this.list.mostBlocks,
      placed: [...this.offsets.values()].map((o) => [o.t, o.offset] as [Ptr, number]),
      views: this.views,
    };
  }

  /** In place: a computed source of the same size, not kept, that this node reads last. */
  private inPlaceParent(node: Ptr, size: number): Ptr | undefined {
    if (!IN_PLACE.has(ggml.op_desc(node) as string)) return undefined;
    return sourcesOf(node).find(
      (s) => this.offsets.get(key(s))?.size === size && !this.kept(s) && this.readers.get(key(s)) === 1,
    );
  }

  /** Graph inputs and outputs, and tensors this graph does not compute, are never freed. */
  private kept(t: Ptr): boolean {
    return !this.computed.has(key(t)) || (flags(t) & (FLAG_OUTPUT | FLAG_INPUT)) !== 0;
  }

  /** One reader of t is done: free t's memory (a view's: its root's) when none is left. */
  private release(t: Ptr): void {
    const left = (this.readers.get(key(t)) ?? 0) - 1;
    this.readers.set(key(t), left);
    if (left > 0) return;
    const root = rootOf(t);
    if (root) return this.release(root);
    const own = this.offsets.get(key(t));
    if (own && !this.kept(t)) this.list.free(own.offset, own.size);
  }

  private sizeOf(t: Ptr): number {
    return Math.ceil(this.allocSize(t) / this.alignment) * this.alignment;
  }

  private place(t: Ptr, offset: number, size: number): void {
    this.offsets.set(key(t), { t, offset, size });
  }
}
