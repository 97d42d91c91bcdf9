/**
 * The memory of a family of graphs: one ggml graph allocator whose buffer every graph of the family is planned
 * into in turn. A graph for a new batch shape then reuses the memory the last one faulted in, instead of
 * allocating (and first-touching) gigabytes of its own; the buffer grows only when a graph needs more, and is
 * advised for huge pages when it does (huge-pages.ts). Measured on a 0.5B model: a fresh 2.6 GB buffer added 8–13 s
 * to the first compute of every new shape.
 *
 * Graphs of one arena share memory, so only one may be between its forward and its backward at a time (`holder`),
 * and a graph planned before the buffer grew points into freed memory (`generation`): ComputeGraph checks both.
 */
import { ggml, type Ptr } from './ffi.ts';
import { bufferOf, graphNodes } from './scheduler.ts';
import { adviseHugePages } from './huge-pages.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

export class GraphArena {
  private allocr: Ptr | null;
  /** bumped whenever the buffer is reallocated: graphs planned before point into freed memory */
  generation = 0;
  /** the graph whose forward last ran here, so its backward may still read the activations */
  holder: object | null = null;

  constructor(readonly backend: Backend, readonly label = 'graph arena') {
    if (!backend.isCpu) throw new GrpoError('engine', `${label}: graph arenas are for the CPU backend (GPU graphs are planned by ggml's scheduler)`);
    this.allocr = ggml.gallocr_new(backend.bufferType);
    if (!this.allocr) throw new GrpoError('engine', `${label}: could not create a graph allocator`);
  }

  get bytes(): number {
    return this.allocr ? Number(ggml.gallocr_get_buffer_size(this.allocr, 0)) : 0;
  }

  /** Plan `graph` into the buffer (growing it if needed); returns the generation the graph's memory belongs to. */
  allocate(graph: Ptr): number {
    if (!this.allocr) throw new GrpoError('engine', `${this.label} was freed`);
    const before = this.bytes;
    if (!ggml.gallocr_alloc_graph(this.allocr, graph)) throw new GrpoError('engine', 'could not allocate the compute graph (out of memory?)');
    if (this.bytes !== before) {
      this.generation++;
      this.holder = null;
      // the new buffer is untouched yet: advise it before the first compute faults it in
      const buffers = new Set<Ptr>();
      for (const node of graphNodes(graph)) { const b = bufferOf(node); if (b) buffers.add(b); }
      for (const b of buffers) adviseHugePages(b);
    }
    return this.generation;
  }

  free(): void {
    if (this.allocr) ggml.gallocr_free(this.allocr);
    this.allocr = null;
    this.holder = null;
  }
}
