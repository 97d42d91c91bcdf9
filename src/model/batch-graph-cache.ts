/**
 * A model's built batch graphs, by key (kind, packed shape, entropy, temperature, adapters): graphs are built per
 * packed shape and kept a few shapes at a time, so steady-state training builds none. The least recently used
 * leave first: past `size` graphs, and on a GPU while the graphs older than the newest hold more than `bytes`.
 * On the CPU, graphs of one kind share one arena (engine/arena.ts): a new shape reuses the memory of the last
 * instead of faulting in gigabytes of its own, so step times stay steady when shapes change.
 */
import type { Backend } from '../engine/backend.ts';
import { GraphArena } from '../engine/arena.ts';
import type { BatchGraph, GraphKind } from './batch-graph.ts';

export class BatchGraphCache {
  /** in order of use, least recent first */
  private readonly graphs = new Map<string, BatchGraph>();
  /** CPU: the memory every graph of a kind is planned into */
  private readonly arenas = new Map<GraphKind, GraphArena>();

  constructor(
    private readonly backend: Backend,
    private readonly size: number,
    private readonly bytes: number,
  ) {}

  /** bytes the graphs' memory holds (activations, gradients of activations, head chunks) */
  get graphBytes(): number {
    const arenas = [...this.arenas.values()].reduce((n, a) => n + a.bytes, 0);
    return arenas + this.ownBytes();
  }

  /** The arena graphs of `kind` are planned into (CPU); undefined on a GPU, where ggml's scheduler plans each graph. */
  arenaFor(kind: GraphKind): GraphArena | undefined {
    if (!this.backend.isCpu) return undefined;
    let a = this.arenas.get(kind);
    // a quarter more than the largest graph so far: batches of somewhat larger shapes then fit the memory already
    // faulted in, and step times stay steady
    if (!a) this.arenas.set(kind, (a = new GraphArena(this.backend, `${kind} graphs`, 1.25)));
    return a;
  }

  /** The graph cached under `key`, now the most recently used (none when its arena grew since it was planned). */
  get(key: string): BatchGraph | undefined {
    const g = this.graphs.get(key);
    if (!g) return undefined;
    this.graphs.delete(key);
    if (!g.graph.valid) {
      // a larger graph of its arena grew the memory since: plan this shape again
      g.free();
      return undefined;
    }
    this.graphs.set(key, g);
    return g;
  }

  /** `g` is still the graph cached under `key` */
  holds(key: string, g: BatchGraph): boolean {
    return this.graphs.get(key) === g;
  }

  /** Room for one more graph: the least recently used leave past the count limit. */
  makeRoom(): void {
    while (this.graphs.size >= this.size) {
      const [oldKey, old] = this.graphs.entries().next().value as [string, BatchGraph];
      old.free();
      this.graphs.delete(oldKey);
    }
  }

  /** Cache a new graph; on a GPU, older graphs' buffers within the byte budget, least recently used first out. */
  add(key: string, g: BatchGraph): void {
    let older = this.ownBytes();
    for (const [k, old] of this.graphs) {
      if (older <= this.bytes) break;
      older -= old.graph.allocatedBytes;
      old.free();
      this.graphs.delete(k);
    }
    this.graphs.set(key, g);
  }

  /** Free the graphs of one kind. */
  drop(kind: GraphKind): void {
    for (const [k, g] of this.graphs)
      if (g.kind === kind) {
        g.free();
        this.graphs.delete(k);
      }
  }

  /** Free every graph; the arenas stay. */
  clear(): void {
    for (const g of this.graphs.values()) g.free();
    this.graphs.clear();
  }

  /** Free every graph and arena. */
  release(): void {
    this.clear();
    for (const a of this.arenas.values()) a.free();
    this.arenas.clear();
  }

  /** bytes of the graphs with memory of their own (not planned into an arena) */
  private ownBytes(): number {
    return [...this.graphs.values()].reduce((n, g) => n + (this.arenas.has(g.kind) ? 0 : g.graph.allocatedBytes), 0);
  }
}
