/**
 * The finite-difference check every gradient test shares: the analytic gradient of `objective` with respect to the
 * tensors `names` (held at `start`, set with `load`) against central differences, along three unit-norm random
 * directions (step 1e-2) and at the largest-gradient coordinate of every tensor (step 1e-3). Tolerance: 1e-2
 * relative, or 1e-4 of the gradient norm. FD_REPORT=1 prints the errors.
 */
import assert from 'node:assert/strict';
import type { Rng } from '../../src/util/rng.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';

const EPS_DIRECTION = 1e-2;
const EPS_COORDINATE = 1e-3;

export interface FdCheck {
  names: string[];
  start: WeightMap;
  grads: Map<string, Float32Array>;
  load: (w: WeightMap) => void;
  objective: () => number;
  rng: Rng;
  /** prefix of the report lines */
  label?: string;
}

export function assertGradientMatchesFd({ names, start, grads, load, objective, rng, label = '' }: FdCheck): void {
  const shifted = (dir: Map<string, Float32Array>, s: number): WeightMap =>
    new Map(
      names.map((n) => [
        n,
        { shape: start.get(n)!.shape, data: start.get(n)!.data.map((x, i) => x + s * dir.get(n)![i]) },
      ]),
    );
  const fd = (dir: Map<string, Float32Array>, eps: number) => {
    load(shifted(dir, eps));
    const up = objective();
    load(shifted(dir, -eps));
    const down = objective();
    load(start);
    return (up - down) / (2 * eps);
  };
  const gradNorm = Math.sqrt([...grads.values()].reduce((a, d) => a + d.reduce((x, y) => x + y * y, 0), 0));
  const check = (analytic: number, numeric: number, what: string) => {
    if (process.env.FD_REPORT)
      console.log(
        label,
        what,
        (Math.abs(analytic - numeric) / Math.abs(numeric)).toExponential(1),
        (Math.abs(analytic - numeric) / gradNorm).toExponential(1),
      );
    assert.ok(
      Math.abs(analytic - numeric) <= 1e-2 * Math.abs(numeric) + 1e-4 * gradNorm,
      `${label} ${what}: analytic ${analytic} vs FD ${numeric} (‖∇‖ ${gradNorm})`,
    );
  };
  for (let trial = 0; trial < 3; trial++) {
    // a unit-norm direction, so a step of EPS stays in the locally linear region
    const dir = new Map(names.map((n) => [n, rng.normalArray(start.get(n)!.data.length, 1)]));
    const norm = Math.sqrt([...dir.values()].reduce((a, d) => a + d.reduce((x, y) => x + y * y, 0), 0));
    for (const d of dir.values()) d.forEach((x, i) => (d[i] = x / norm));
    let analytic = 0;
    for (const n of names) grads.get(n)!.forEach((x, i) => (analytic += x * dir.get(n)![i]));
    check(analytic, fd(dir, EPS_DIRECTION), `direction ${trial}`);
  }
  for (const n of names) {
    const gr = grads.get(n)!;
    let j = 0;
    gr.forEach((x, i) => {
      if (Math.abs(x) > Math.abs(gr[j])) j = i;
    });
    const dir = new Map(names.map((m) => [m, new Float32Array(start.get(m)!.data.length)]));
    dir.get(n)![j] = 1;
    check(gr[j], fd(dir, EPS_COORDINATE), `${n}[${j}]`);
  }
}
