/**
 * The memory of a family of graphs: one backend buffer that every graph of the family is planned into in turn
 * (graph-memory.ts). A graph for a new batch shape then reuses the memory the last one faulted in, instead of
 * allocating (and first-touching) gigabytes of its own. The buffer grows only when a graph needs more, and then
 * by `headroom` beyond it, so that somewhat larger shapes later fit too; it is advised for huge pages before its
 * first touch (huge-pages.ts). Measured on a 0.5B model: a fresh 2.6 GB buffer added 8–13 s to the first compute of
 * every new shape.
 *
 * Graphs of one arena share memory, so only one may be between its forward and its backward at a time (`holder`),
 * and a graph planned before the buffer grew points into freed memory (`generation`): ComputeGraph checks both.
 */
import { ggml, type Ptr } from './ffi.ts';
import { planGraphMemory } from './graph-memory.ts';
import { adviseHugePages } from './huge-pages.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

export class GraphArena {
  private buffer: Ptr | null = null;
  private size = 0;
  private freed = false;
  private readonly alignment: number;
  /** bumped whenever the buffer is reallocated: graphs planned before point into freed memory */
  generation = 0;
  /** the graph whose forward last ran here, so its backward may still read the activations */
  holder: object | null = null;
  /** the most free holes the last graph's plan held (ggml's own allocator, which GPU graphs use, aborts past 256) */
  holes = 0;

  /** `headroom`: how much larger than the graph that made it grow the buffer is made (1: exactly its size) */
  constructor(
    readonly backend: Backend,
    readonly label = 'graph arena',
    private readonly headroom = 1,
  ) {
    if (!backend.isCpu)
      throw new GrpoError(
        'engine',
        `${label}: graph arenas are for the CPU backend (GPU graphs are planned by ggml's scheduler)`,
      );
    this.alignment = Number(ggml.backend_buft_get_alignment(backend.bufferType));
  }

  get bytes(): number {
    return this.size;
  }

  /** Plan `nodes` (a graph's, in compute order) into the buffer, growing it if needed; returns the generation the graph's memory belongs to. */
  allocate(nodes: Ptr[]): number {
    if (this.freed) throw new GrpoError('engine', `${this.label} was freed`);
    const buft = this.backend.bufferType;
    const plan = planGraphMemory(nodes, this.alignment, (t) => Number(ggml.backend_buft_get_alloc_size(buft, t)));
    this.holes = plan.holes;
    if (!this.buffer || plan.size > this.size) {
      if (this.buffer) ggml.backend_buffer_free(this.buffer);
      this.buffer = null;
      this.size = 0;
      this.generation++;
      this.holder = null;
      const size = Math.max(this.alignment, Math.ceil((plan.size * this.headroom) / this.alignment) * this.alignment);
      const buffer: Ptr | null = ggml.backend_buft_alloc_buffer(buft, size);
      if (!buffer)
        throw new GrpoError(
          'engine',
          `${this.label}: could not allocate ${(size / 1e9).toFixed(2)} GB for a compute graph (out of memory?)`,
        );
      // untouched yet: advise it before the first compute faults it in
      adviseHugePages(buffer);
      this.buffer = buffer;
      this.size = size;
    }
    const base = ggml.backend_buffer_get_base(this.buffer) as Ptr;
    for (const [t, offset] of plan.placed) {
      if (ggml.backend_tensor_alloc(this.buffer, t, base + BigInt(offset)) !== 0)
        throw new GrpoError('engine', `${this.label}: could not place a tensor of the graph`);
    }
    for (const v of plan.views) {
      if (ggml.backend_view_init(v) !== 0)
        throw new GrpoError('engine', `${this.label}: could not place a view of the graph`);
    }
    return this.generation;
  }

  free(): void {
    if (this.buffer) ggml.backend_buffer_free(this.buffer);
    this.buffer = null;
    this.size = 0;
    this.freed = true;
    this.holder = null;
  }
}
