/**
 * Ownership of one ggml context (tensor and graph metadata only: `no_alloc` is always true, data lives in
 * backend buffers). Whoever creates a Context frees it; `free()` is idempotent so owners can free in `finally`.
 */
import { ggml, type Ptr } from './ffi.ts';
import { Tensor, GGML_TYPE, type DType } from './tensor.ts';
import { GrpoError } from '../errors.ts';

const TENSOR_OVERHEAD = Number(ggml.tensor_overhead());

export class Context {
  readonly ptr: Ptr;
  /** bytes of metadata reserved */
  readonly memSize: number;
  private freed = false;

  /** Room for `maxTensors` tensor headers and `nGraphs` graphs of up to `graphSize` nodes. */
  constructor(maxTensors: number, graphSize = 0, graphGrads = false, nGraphs = 1) {
    const graphBytes = graphSize ? nGraphs * Number(ggml.graph_overhead_custom(graphSize, graphGrads)) : 0;
    const mem = (this.memSize = maxTensors * TENSOR_OVERHEAD + graphBytes + 4096);
    this.ptr = ggml.init({ mem_size: mem, mem_buffer: null, no_alloc: true });
    if (!this.ptr) throw new GrpoError('engine', `ggml_init failed to reserve ${mem} bytes of metadata`);
  }

  get alive(): boolean {
    return !this.freed;
  }

  assertAlive(): void {
    if (this.freed)
      throw new GrpoError('engine', 'use of a freed ggml context (a model or graph was used after free())');
  }

  /** How many more tensor headers fit (ggml aborts when a context overflows, so callers check first). */
  get roomForTensors(): number {
    return Math.floor((this.memSize - Number(ggml.used_mem(this.ptr))) / TENSOR_OVERHEAD);
  }

  /** Throw instead of letting ggml abort when `n` more tensors would not fit. */
  reserve(n: number, what: string): void {
    this.assertAlive();
    if (this.roomForTensors < n)
      throw new GrpoError('engine', `${what}: the graph's metadata context is full; build it with a larger maxNodes`);
  }

  newTensor(dtype: DType, ne: readonly number[], name = ''): Tensor {
    this.reserve(1, `tensor '${name}'`);
    if (ne.length < 1 || ne.length > 4 || ne.some((n) => !Number.isInteger(n) || n <= 0)) {
      throw new GrpoError('shape', `tensor '${name}' needs 1 to 4 positive integer dimensions, got [${ne.join(', ')}]`);
    }
    const t = GGML_TYPE[dtype];
    const ptr =
      ne.length === 1
        ? ggml.new_tensor_1d(this.ptr, t, ne[0])
        : ne.length === 2
          ? ggml.new_tensor_2d(this.ptr, t, ne[0], ne[1])
          : ne.length === 3
            ? ggml.new_tensor_3d(this.ptr, t, ne[0], ne[1], ne[2])
            : ggml.new_tensor_4d(this.ptr, t, ne[0], ne[1], ne[2], ne[3]);
    const tensor = new Tensor(ptr, dtype, ne, undefined, name, this);
    if (name) ggml.set_name(ptr, name.slice(0, 63));
    return tensor;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    ggml.free(this.ptr);
  }
}
