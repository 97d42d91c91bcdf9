/**
 * One compute graph with its own metadata context, planned into an arena's memory (its own, or one it shares with
 * graphs of other batch shapes: arena.ts). A training graph is built as forward, then
 * `beginBackward()`, then the hand-written backward (model/pieces/); its forward and backward parts are computed
 * separately: DESIGN.md's seam computes the forward part, reads per-token log-probs, computes per-token
 * coefficients in TypeScript, writes them, then computes the backward part — nothing is computed twice.
 *
 * The allocator plans memory over the whole graph, so every forward activation the backward reads stays alive
 * between the two computes, and nothing else does.
 */
import { ggml, type Ptr } from './ffi.ts';
import { ScheduledGraph, appendLeafs, graphNodes, hasMemory } from './scheduler.ts';
import { Context } from './context.ts';
import { GraphArena } from './arena.ts';
import { profileNodes, type NodeTiming } from './graph-profile.ts';
import { planGraphMemory } from './graph-memory.ts';
import { Ops } from './ops.ts';
import type { Tensor, DType } from './tensor.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

/** free holes a GPU graph's plan may hold here before ggml's allocator (256) is at risk */
const GPU_HOLES_LIMIT = 200;

export interface GraphOptions {
  /** upper bound on the tensors the caller creates (ops and inputs) */
  maxNodes?: number;
  /** tensors of other contexts the graph touches (parameters, caches, accumulators): nodes or leaves too */
  externalTensors?: number;
  /** CPU: plan into this shared arena instead of memory of the graph's own (the GPU path plans with ggml's scheduler) */
  arena?: GraphArena;
}

export class ComputeGraph {
  readonly ctx: Context;
  readonly ops: Ops;
  private readonly graph: Ptr;
  private readonly maxNodes: number;
  /** CPU: where the graph's memory is planned, and the arena generation that plan belongs to */
  private arena: GraphArena | null = null;
  private readonly sharedArena: GraphArena | null;
  private arenaGeneration = -1;
  /** on a GPU: the whole graph, or its forward and backward parts, each under a ggml scheduler */
  private scheduled: ScheduledGraph[] = [];
  private forwardPart: Ptr | null = null;
  private backwardPart: Ptr | null = null;
  private nForward = -1;
  private freed = false;
  private readonly inputs: Tensor[] = [];

  constructor(
    readonly backend: Backend,
    opts: GraphOptions = {},
  ) {
    // Every node or leaf is a tensor of this context or an external one, so a graph sized to the context's
    // tensor capacity plus the external tensors can never overflow (ggml would abort).
    const tensors = opts.maxNodes ?? 8192;
    this.maxNodes = tensors + (opts.externalTensors ?? 0);
    this.sharedArena = opts.arena ?? null;
    // 3 graphs: the whole graph and, for training, views of its forward and backward parts
    this.ctx = new Context(tensors, this.maxNodes, false, 3);
    this.ops = new Ops(this.ctx, !backend.isCpu);
    this.graph = ggml.new_graph_custom(this.ctx.ptr, this.maxNodes, false);
    if (!this.graph) throw new GrpoError('engine', 'could not create a ggml graph');
  }

  /** A tensor the caller fills before each compute (allocated by the graph allocator, never overwritten). */
  input(dtype: DType, ne: readonly number[], name: string): Tensor {
    if (this.inputs.some((t) => t.name === name)) throw new GrpoError('engine', `graph input '${name}' declared twice`);
    const t = this.ctx.newTensor(dtype, ne, name);
    ggml.set_input(t.ptr);
    this.inputs.push(t);
    return t;
  }

  /** Keep `t` readable after compute (its memory is not reused by later nodes). */
  output(t: Tensor): Tensor {
    ggml.set_output(t.ptr);
    return t;
  }

  /** Add `t` and everything it depends on to the graph. */
  expand(t: Tensor): void {
    this.assertBuilding();
    ggml.build_forward_expand(this.graph, t.ptr);
  }

  get nodeCount(): number {
    return ggml.graph_n_nodes(this.graph);
  }

  /**
   * Everything expanded so far is the forward part; nodes expanded from now on form the backward part, computed
   * by `computeBackward()` after `computeForward()`.
   */
  beginBackward(): void {
    this.assertBuilding();
    if (this.nForward >= 0) throw new GrpoError('engine', 'beginBackward() called twice');
    this.nForward = this.nodeCount;
  }

  private slice(i0: number, i1: number): Ptr {
    const g: Ptr = ggml.new_graph_custom(this.ctx.ptr, this.maxNodes, false);
    for (const node of graphNodes(this.graph, i0, i1)) ggml.graph_add_node(g, node);
    return g;
  }

  /** Assign memory to every non-static tensor. Call once, after building. */
  allocate(): void {
    this.assertBuilding();
    // an input the graph never reads gets no memory, and writing it would abort inside ggml
    for (const t of this.inputs) {
      if (ggml.graph_get_tensor(this.graph, t.name) !== t.ptr)
        throw new GrpoError('engine', `graph input '${t.name}' is not used by the graph`);
    }
    if (this.nForward >= 0) {
      this.forwardPart = this.slice(0, this.nForward);
      this.backwardPart = this.slice(this.nForward, this.nodeCount);
    }
    if (this.backend.isCpu) {
      const arena = this.sharedArena ?? new GraphArena(this.backend);
      try {
        this.arenaGeneration = arena.allocate(graphNodes(this.graph));
      } catch (e) {
        if (!this.sharedArena) arena.free();
        throw e;
      }
      this.arena = arena;
      return;
    }
    this.checkWritesSupported();
    const schedule = (g: Ptr) => {
      this.checkHoles(g);
      return new ScheduledGraph(g, this.backend, this.backend.cpuCompanion, this.maxNodes);
    };
    if (!this.forwardPart || !this.backwardPart) {
      this.scheduled = [schedule(this.graph)];
      return;
    }
    // Forward and backward are computed apart (the seam), so each part gets its own scheduler, and each slice
    // needs the tensors it reads from outside as leafs. What the backward reads of the forward part (activations,
    // inputs) must outlive the forward's memory plan: mark it as output.
    appendLeafs(this.forwardPart);
    for (const src of appendLeafs(this.backwardPart)) if (!hasMemory(src)) ggml.set_output(src);
    this.scheduled = [schedule(this.forwardPart)];
    try {
      this.scheduled.push(schedule(this.backwardPart));
    } catch (e) {
      this.scheduled[0].free();
      this.scheduled = [];
      throw e;
    }
  }

  /**
   * The scheduler moves an op the GPU backend lacks to the CPU, except one that writes memory the GPU already
   * holds (a KV-cache row, an optimizer step on a weight): ggml would abort on it, so name it here instead.
   */
  private checkWritesSupported(): void {
    const missing = new Set<string>();
    for (const node of graphNodes(this.graph)) {
      if (hasMemory(node) && !this.backend.supportsOp(node)) missing.add(ggml.op_desc(node) as string);
    }
    if (missing.size > 0) {
      throw new GrpoError(
        'engine',
        `${this.backend.name} (${this.backend.description}) cannot compute ${[...missing].join(', ')} into its own memory as this graph does; run on the CPU (--device cpu)`,
      );
    }
  }

  /**
   * ggml's scheduler plans a GPU graph's memory with ggml's allocator, which aborts the process once a plan holds more
   * than 256 free holes; a training graph's kept activations, with temporaries freed between them, can leave that many
   * in a deep model. This graph-memory.ts plan (the same rules, no limit) counts them first, so that such a graph is
   * one clear error instead; the count is close to ggml's, not equal to it, hence the margin.
   */
  private checkHoles(part: Ptr): void {
    const buft = this.backend.bufferType;
    const plan = planGraphMemory(graphNodes(part), Number(ggml.backend_buft_get_alignment(buft)), (t) =>
      Number(ggml.backend_buft_get_alloc_size(buft, t)),
    );
    if (plan.holes > GPU_HOLES_LIMIT) {
      throw new GrpoError(
        'engine',
        `this graph would leave about ${plan.holes} free holes in ggml's GPU memory planner, which aborts past 256: turn on training.gradient_checkpointing (it keeps one layer's activations), or lower training.micro_batch_groups`,
      );
    }
  }

  /** runs of ops per backend the scheduler computes in turn: one per part when the GPU computes every op; 0 on the CPU */
  get splits(): number {
    return this.scheduled.reduce((n, s) => n + s.splits, 0);
  }

  /** bytes of the memory the graph is planned into (a shared arena's whole buffer) */
  get allocatedBytes(): number {
    if (this.arena) return this.arena.bytes;
    return this.scheduled.reduce((n, s) => n + s.allocatedBytes, 0);
  }

  /**
   * The graph's memory is still its own: no graph sharing its arena grew the buffer since it was planned. A stale
   * graph must be rebuilt.
   */
  get valid(): boolean {
    return !this.freed && (!this.arena || this.arena.generation === this.arenaGeneration);
  }

  /** Compute the whole graph (forward, then backward if built). */
  compute(): void {
    if (this.scheduled.length === 0) return this.run(this.graph);
    for (const part of this.scheduled) this.run(this.graph, part);
  }

  /** Compute only the forward part of a training graph. */
  computeForward(): void {
    this.run(this.forwardPart ?? this.graph, this.scheduled[0]);
  }

  /** Compute only the backward part (after computeForward and after writing the coefficients). */
  computeBackward(): void {
    if (!this.backwardPart) throw new GrpoError('engine', 'computeBackward on a graph without a backward pass');
    if (this.arena && this.arena.holder !== this)
      throw new GrpoError(
        'engine',
        'computeBackward: another graph sharing this memory was computed after this forward; compute the forward again',
      );
    this.run(this.backwardPart, this.scheduled[1]);
  }

  /** Compute a part node by node, timing each (graph-profile.ts: where the time goes); CPU graphs only. */
  profile(part: 'forward' | 'backward' | 'all' = 'all'): NodeTiming[] {
    if (part === 'backward' && this.nForward < 0)
      throw new GrpoError('engine', 'profile: this graph has no backward part');
    if (!this.valid || !this.arena)
      throw new GrpoError('engine', 'profile: allocate the graph first (CPU graphs only)');
    if (part === 'backward' && this.arena.holder !== this)
      throw new GrpoError('engine', 'profile: compute or profile the forward part first');
    const [i0, i1] =
      part === 'backward'
        ? [this.nForward, this.nodeCount]
        : part === 'forward' && this.nForward >= 0
          ? [0, this.nForward]
          : [0, this.nodeCount];
    this.arena.holder = part === 'backward' ? null : this;
    return profileNodes(this.backend, graphNodes(this.graph, i0, i1));
  }

  private run(g: Ptr, scheduled?: ScheduledGraph): void {
    if (this.freed) throw new GrpoError('engine', 'compute on a freed graph');
    if (!this.arena && this.scheduled.length === 0) throw new GrpoError('engine', 'compute before allocate()');
    if (!this.valid)
      throw new GrpoError(
        'engine',
        'compute on a graph whose shared memory was reallocated by a larger graph; build it again',
      );
    if (this.arena) this.arena.holder = g === this.backwardPart ? null : this;
    if (scheduled) return scheduled.compute();
    const status = ggml.backend_graph_compute(this.backend.ptr, g);
    if (status !== 0) throw new GrpoError('engine', `ggml graph compute failed with status ${status}`);
  }

  get forwardNodeCount(): number {
    return this.nForward;
  }

  private assertBuilding(): void {
    if (this.freed) throw new GrpoError('engine', 'use of a freed graph');
    if (this.arena || this.scheduled.length > 0)
      throw new GrpoError('engine', 'graph already allocated; build a new graph to change it');
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    if (this.arena) {
      if (this.arena.holder === this) this.arena.holder = null;
      if (this.arena !== this.sharedArena) this.arena.free();
    }
    for (const part of this.scheduled) part.free();
    this.ctx.free();
  }
}
