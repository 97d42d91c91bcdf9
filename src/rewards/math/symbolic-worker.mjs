// Worker thread that runs symbolic comparisons for symbolic.ts. The main thread blocks on a shared
// Int32Array with a deadline and terminates this worker when a comparison runs too long.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const { compareExpressions } = createRequire(import.meta.url)('./symbolic-core.cjs');
const control = new Int32Array(workerData.control);
const VERDICT_CODES = { equal: 1, different: 2, unknown: 3 };
const ERROR_CODE = 4;

Atomics.store(control, 0, 1);
Atomics.notify(control, 0);

parentPort.on('message', (job) => {
  let code;
  try {
    code = VERDICT_CODES[compareExpressions(job.a, job.b, job.mode, job.tolerance)];
  } catch {
    code = ERROR_CODE;
  }
  Atomics.store(control, 1, code);
  Atomics.notify(control, 1);
});
