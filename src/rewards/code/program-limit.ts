/**
 * How many sandboxed programs run at once: those one code reward scores, or those one Python tool runs for every
 * episode of a run. Each program may take its memory cap (python.memoryBytes, 1 GiB by default), so their memory is
 * at most concurrency × cap; the default is the CPUs, past which more programs at once only share the same cores.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { availableParallelism } from 'node:os';
import { GrpoError } from '../../errors.ts';

export function programLimit(concurrency: number | undefined, who: string): LimitFunction {
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1))
    throw new GrpoError(
      'config',
      `${who}: concurrency must be a whole number of programs at once, 1 or more (default: the CPUs); got ${concurrency}`,
    );
  return pLimit(concurrency ?? availableParallelism());
}
