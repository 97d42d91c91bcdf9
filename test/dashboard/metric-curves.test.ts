/** The dashboard charts every numeric metric: the headline ones first, the rollout servers' beside the timings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricCurves } from '../../src/dashboard/client/metric-curves.ts';

test('every numeric metric gets a chart; async/ and fleet/ come after the method’s metrics and before time/', () => {
  const rows = [1, 2].map((step) => ({
    step,
    wall_time: 1e9 + step,
    'time/update_ms': 10 * step,
    'async/wait_ms': 3 * step,
    'fleet/requests_0': 8 * step,
    'async/staleness_max': step - 1,
    'policy/x': 0.5,
    reward: 0.1 * step,
    note: 'text is not charted',
  }));
  const curves = metricCurves([{ label: 'run', color: '#000', rows }]);
  assert.deepEqual(
    [...curves.keys()],
    ['reward', 'policy/x', 'async/staleness_max', 'async/wait_ms', 'fleet/requests_0', 'time/update_ms'],
  );
  assert.deepEqual(curves.get('async/staleness_max')![0].points, [
    [1, 0],
    [2, 1],
  ]);
});
