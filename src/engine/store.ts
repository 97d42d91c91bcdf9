/**
 * Tensors that live across graphs — parameters, gradient accumulators, optimizer moments, KV caches — declared
 * in one context and placed in one backend buffer. Declare every tensor, then `allocate()` once.
 */
import { ggml, type Ptr } from './ffi.ts';
import { adviseHugePages } from './huge-pages.ts';
import { Context } from './context.ts';
import type { Tensor, DType } from './tensor.ts';
import type { Backend } from './backend.ts';
import { GrpoError } from '../errors.ts';

export class TensorStore {
  private readonly ctx: Context;
  private buffer: Ptr | null = null;
  readonly tensors: Tensor[] = [];

  constructor(
    maxTensors: number,
    readonly label = 'store',
  ) {
    this.ctx = new Context(maxTensors);
  }

  get allocated(): boolean {
    return this.buffer !== null;
  }

  declare(dtype: DType, ne: readonly number[], name: string): Tensor {
    if (this.buffer) throw new GrpoError('engine', `${this.label}: cannot declare '${name}' after allocate()`);
    const t = this.ctx.newTensor(dtype, ne, name);
    this.tensors.push(t);
    return t;
  }

  /** Place every declared tensor in one buffer of `backend`, zero-filled. */
  allocate(backend: Backend): void {
    if (this.buffer) throw new GrpoError('engine', `${this.label}: allocate() called twice`);
    if (this.tensors.length === 0) throw new GrpoError('engine', `${this.label}: nothing declared to allocate`);
    const buf: Ptr = ggml.backend_alloc_ctx_tensors(this.ctx.ptr, backend.ptr);
    if (!buf) throw new GrpoError('engine', `${this.label}: could not allocate the backend buffer (out of memory?)`);
    this.buffer = buf;
    // before zero() touches it: huge pages fault in 512× fewer times (huge-pages.ts)
    adviseHugePages(buf);
    this.zero();
  }

  get byteSize(): number {
    return this.buffer ? Number(ggml.backend_buffer_get_size(this.buffer)) : 0;
  }

  /** Set every byte of every tensor to 0. */
  zero(): void {
    if (!this.buffer) throw new GrpoError('engine', `${this.label}: zero() before allocate()`);
    ggml.backend_buffer_clear(this.buffer, 0);
  }

  free(): void {
    if (this.buffer) ggml.backend_buffer_free(this.buffer);
    this.buffer = null;
    this.ctx.free();
  }
}
