/**
 * TensorBoard's scalar smoothing (also W&B's default): an exponential moving average debiased like Adam's
 * moments, so early points are not pulled towards zero. weight 0 is no smoothing; values that are not finite
 * (null, NaN) pass through and do not enter the average. A constant series stays exactly constant.
 */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (weight <= 0 || finite.every((v) => v === finite[0])) return values.slice();
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}
