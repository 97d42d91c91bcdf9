// The GEPA loop with scripted adapters: budget accounting by hand, skip_perfect_score, acceptance criteria,
// round-robin components, merge scheduling, and resuming from saved state to the same result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGepaSearch } from '../../src/trainingfree/gepa/search.ts';
import type { GepaSearchDeps, GepaSearchOptions } from '../../src/trainingfree/gepa/search-run.ts';
import { isAccepted, selectComponents } from '../../src/trainingfree/gepa/reflective-mutation.ts';
import type { EvaluationBatch, GepaAdapter } from '../../src/trainingfree/gepa/adapter.ts';
import type { TaskExample } from '../../src/trainingfree/common/dataset.ts';
import type { Program } from '../../src/trainingfree/gepa/pareto.ts';
import { addProgram, initialState } from '../../src/trainingfree/gepa/state.ts';

const examples = (prefix: string, n: number): TaskExample[] =>
  Array.from({ length: n }, (_, k) => ({ id: `${prefix}${k}`, input: `${prefix} input ${k}`, answer: '', fields: {} }));

/** An adapter whose score is a pure function of (program, example); counts the evaluations it performs. */
function functionAdapter(
  score: (program: Program, example: TaskExample) => number,
): GepaAdapter & { evaluations: number } {
  const adapter = {
    evaluations: 0,
    async evaluate(batch: readonly TaskExample[], program: Program, capture: boolean): Promise<EvaluationBatch> {
      adapter.evaluations += batch.length;
      const scores = batch.map((e) => score(program, e));
      return {
        outputs: scores.map(String),
        scores,
        traces: capture ? batch.map((e, k) => ({ input: e.input, output: '', score: scores[k], feedback: '' })) : null,
      };
    },
    makeReflectiveDataset: (_p: Program, ev: EvaluationBatch, components: readonly string[]) =>
      Object.fromEntries(components.map((c) => [c, (ev.traces ?? []).map((t) => ({ input: t.input }))])),
  };
  return adapter;
}

const quietLog = () => {
  const lines: string[] = [];
  const records: Record<string, unknown>[] = [];
  return {
    lines,
    records,
    line: (t: string) => void lines.push(t),
    metrics: (r: Record<string, unknown>) => void records.push(r),
    warn: (t: string) => void lines.push(`warn ${t}`),
  };
};

function options(extra: Partial<GepaSearchOptions> = {}): GepaSearchOptions {
  return {
    maxMetricCalls: 30,
    maxIterations: null,
    reflectionMinibatchSize: 2,
    candidateSelection: 'pareto',
    epsilon: 0.1,
    moduleSelector: 'round_robin',
    acceptance: 'strict_improvement',
    skipPerfectScore: true,
    perfectScore: 1,
    useMerge: false,
    maxMergeInvocations: 5,
    mergeSubsampleSize: 5,
    seed: 0,
    statePath: null,
    resume: false,
    stopFile: null,
    ...extra,
  };
}

// "version k" scores min(1, k/4) on every example; the reflection always proposes version k+1
const versionOf = (p: Program) => Number(p.instructions.slice(1));
const versionDeps = (log = quietLog()): GepaSearchDeps & { adapter: ReturnType<typeof functionAdapter> } => ({
  adapter: functionAdapter((p) => Math.min(1, versionOf(p) / 4)),
  propose: async (p) => ({ instructions: `v${versionOf(p) + 1}` }),
  trainset: examples('t', 4),
  valset: examples('v', 4),
  seedProgram: { instructions: 'v0' },
  log,
});

test('acceptance criteria compare minibatch sums', () => {
  assert.equal(isAccepted([0.5, 0.5], [1, 0], 'strict_improvement'), false);
  assert.equal(isAccepted([0.5, 0.5], [1, 0], 'improvement_or_equal'), true);
  assert.equal(isAccepted([0, 0], [0, 0.1], 'strict_improvement'), true);
  assert.equal(isAccepted([1, 0], [0, 0.9], 'improvement_or_equal'), false);
});

test('budget: seed 4, then per accepted iteration 2 + 2 + 4; the check at iteration start lets the last one overshoot', async () => {
  const deps = versionDeps();
  const state = await runGepaSearch(deps, options({ maxMetricCalls: 30 }));
  // 4 → it0 12 → it1 20 → it2 28 → (28 < 30) it3 36 → stop
  assert.equal(state.totalMetricCalls, 36);
  assert.equal(deps.adapter.evaluations, 36, 'every evaluation is counted exactly once');
  assert.equal(state.iteration, 4);
  assert.deepEqual(
    state.programs.map((p) => p.instructions),
    ['v0', 'v1', 'v2', 'v3', 'v4'],
  );
  assert.deepEqual(state.parents, [[null], [0], [1], [2], [3]]);
  assert.deepEqual(state.discoveredAtMetricCalls, [0, 8, 16, 24, 32]);
  // all instances tie at each program's score, so the front is always the newest program alone
  assert.deepEqual(state.front.programs, [[4], [4], [4], [4]]);
});

test('skip_perfect_score: a perfect parent costs its minibatch only; without it the equal child is rejected, or accepted with improvement_or_equal', async () => {
  const skip = await runGepaSearch(versionDeps(), options({ maxMetricCalls: 40 }));
  // after 36: it4 parent v4 perfect → 38, it5 → 40, stop
  assert.deepEqual([skip.totalMetricCalls, skip.iteration, skip.programs.length], [40, 6, 5]);

  const strict = await runGepaSearch(versionDeps(), options({ maxMetricCalls: 40, skipPerfectScore: false }));
  // it4: parent v4 (2) and child v5 (2), both score 1: not strictly better → 40, stop
  assert.deepEqual([strict.totalMetricCalls, strict.programs.length], [40, 5]);

  const lenient = await runGepaSearch(
    versionDeps(),
    options({ maxMetricCalls: 40, skipPerfectScore: false, acceptance: 'improvement_or_equal' }),
  );
  // it4: 36 + 2 + 2 + 4 (accepted v5 on the validation set) = 44
  assert.deepEqual([lenient.totalMetricCalls, lenient.programs.length], [44, 6]);
});

test('max_iterations and the stop file end a run early', async () => {
  assert.equal((await runGepaSearch(versionDeps(), options({ maxMetricCalls: 1000, maxIterations: 2 }))).iteration, 2);
  const dir = mkdtempSync(join(tmpdir(), 'gepa-stop-'));
  writeFileSync(join(dir, 'gepa.stop'), '');
  const stopped = await runGepaSearch(
    versionDeps(),
    options({ maxMetricCalls: 1000, stopFile: join(dir, 'gepa.stop') }),
  );
  assert.deepEqual([stopped.iteration, stopped.totalMetricCalls], [0, 4]);
});

test('a failed reflection is logged and skipped; three failures in a row stop the run with the error', async () => {
  let calls = 0;
  const log = quietLog();
  const flaky = {
    ...versionDeps(log),
    propose: async (p: Program) => {
      if (calls++ === 0) throw new Error('reflection timed out');
      return { instructions: `v${versionOf(p) + 1}` };
    },
  };
  const state = await runGepaSearch(flaky, options({ maxMetricCalls: 12 }));
  // it0: parent minibatch 2 then the failure → 6; it1: 2 + 2 + 4 → 14
  assert.deepEqual([state.totalMetricCalls, state.programs.length], [14, 2]);
  assert.ok(log.lines.some((l) => l.includes('warn iteration 0: reflection failed, skipped: reflection timed out')));
  const broken = {
    ...versionDeps(),
    propose: async () => {
      throw new Error('HTTP 401');
    },
  };
  await assert.rejects(runGepaSearch(broken, options({ maxMetricCalls: 100 })), /HTTP 401/);
});

test('round robin cycles through components per program; a child continues from its parent', () => {
  const state = initialState({ a: 'x', b: 'y', c: 'z' }, ['v0'], [0], 1, 1);
  assert.deepEqual(
    [0, 1, 2, 3].map(() => selectComponents(state, 0, 'round_robin')[0]),
    ['a', 'b', 'c', 'a'],
  );
  const child = addProgram(state, { a: 'x2', b: 'y', c: 'z' }, [0], [1], 0);
  assert.deepEqual(selectComponents(state, child, 'round_robin'), ['b']);
  assert.deepEqual(selectComponents(state, child, 'all'), ['a', 'b', 'c']);
});

/** Scores look random but are a pure function of (program, example): fronts, merges and selection vary. */
function hashScore(p: Program, e: TaskExample): number {
  let h = 2166136261;
  for (const ch of `${p.a}|${p.b}|${e.id}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return (h % 5) / 4;
}

const richDeps = (log = quietLog()): GepaSearchDeps => ({
  adapter: functionAdapter(hashScore),
  // a new text depends on the component, its old text and which examples the reflection saw
  propose: async (p, dataset, components) =>
    Object.fromEntries(
      components.map((c) => [
        c,
        `${p[c]}.${(dataset[c] as { input: string }[]).map((r) => r.input.slice(-1)).join('')}`,
      ]),
    ),
  trainset: examples('t', 5),
  valset: examples('v', 6),
  seedProgram: { a: 'A', b: 'B' },
  log,
});

test('merge: scheduled after a new program, capped by max_merge_invocations, recorded with two parents', async () => {
  const log = quietLog();
  const state = await runGepaSearch(
    richDeps(log),
    options({ maxMetricCalls: 400, useMerge: true, maxMergeInvocations: 2, reflectionMinibatchSize: 3 }),
  );
  const merges = log.records.filter((r) => r.kind === 'merge');
  assert.ok(merges.length > 0, 'this seeded run attempts at least one merge');
  const accepted = merges.filter((r) => r.accepted);
  assert.ok(accepted.length <= 2);
  assert.equal(state.merge.accepted, accepted.length);
  assert.equal(state.parents.filter((p) => p.length === 2).length, accepted.length);
  for (const r of merges)
    assert.equal((r.subsample_after as number) >= Math.max(...(r.subsample_before as number[])), r.accepted);
  // a merge attempt is only made right after an iteration that found a program
  for (const r of merges) {
    const prev = log.records.find((x) => x.iteration === (r.iteration as number) - 1);
    assert.ok(
      prev && prev.new_program !== undefined,
      `merge at iteration ${r.iteration} without a new program before it`,
    );
  }
});

test('merge of complementary lineages, by hand: {a1,b0} and {a0,b1} from seed {a0,b0} merge into {a1,b1}', async () => {
  // val v0 rewards an evolved a, v1 an evolved b, v2 the untouched seed; train t0/t1 reward evolved a / b
  const evolved = (text: string) => !text.endsWith('0');
  const score = (p: Program, e: TaskExample): number => {
    if (e.id === 'v0' || e.id === 't0') return evolved(p.a) ? 1 : 0;
    if (e.id === 'v1' || e.id === 't1') return evolved(p.b) ? 1 : 0;
    return evolved(p.a) || evolved(p.b) ? 0 : 1;
  };
  const log = quietLog();
  const deps: GepaSearchDeps = {
    adapter: functionAdapter(score),
    propose: async (_p, _d, components) => Object.fromEntries(components.map((c) => [c, `${c}1`])),
    trainset: [
      { id: 't0', input: 't0', answer: '', fields: {} },
      { id: 't1', input: 't1', answer: '', fields: {} },
    ],
    valset: ['v0', 'v1', 'v2'].map((id) => ({ id, input: id, answer: '', fields: {} })),
    seedProgram: { a: 'a0', b: 'b0' },
    log,
  };
  // current_best picks the first of equal means, so the seed is the parent twice: a first, then b (round robin)
  const state = await runGepaSearch(
    deps,
    options({ maxMetricCalls: 25, useMerge: true, candidateSelection: 'current_best', reflectionMinibatchSize: 2 }),
  );
  assert.deepEqual(state.programs, [
    { a: 'a0', b: 'b0' },
    { a: 'a1', b: 'b0' },
    { a: 'a0', b: 'b1' },
    { a: 'a1', b: 'b1' },
  ]);
  assert.deepEqual(state.parents, [[null], [0], [0], [1, 2]]);
  assert.deepEqual(state.valScores[3], [1, 1, 0]);
  // seed 3; it0 2+2+3 → 10; it1 (merge impossible with 2 programs) 2+2+3 → 17; it2 merge: subsample 5 + val 3 → 25
  assert.deepEqual([state.totalMetricCalls, state.iteration, state.merge.accepted, state.merge.due], [25, 3, 1, 1]);
  assert.deepEqual(
    log.records.map((r) => r.kind),
    [undefined, 'reflective', 'reflective', 'merge'],
  );
  assert.deepEqual(state.front.programs, [[1, 3], [2, 3], [0]]);
});

test('resume: stopping at a smaller budget and continuing gives the same state as one uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gepa-resume-'));
  const statePath = join(dir, 'gepa_state.json');
  const common = { useMerge: true, reflectionMinibatchSize: 3 };
  const whole = await runGepaSearch(richDeps(), options({ ...common, maxMetricCalls: 300 }));
  const part = await runGepaSearch(richDeps(), options({ ...common, maxMetricCalls: 120, statePath, resume: true }));
  assert.ok(part.iteration < whole.iteration && part.iteration > 0);
  const log = quietLog();
  const resumed = await runGepaSearch(
    richDeps(log),
    options({ ...common, maxMetricCalls: 300, statePath, resume: true }),
  );
  assert.match(log.lines[0], /resuming at iteration/);
  assert.deepEqual(resumed, whole);
  assert.deepEqual(JSON.parse(readFileSync(statePath, 'utf8')), JSON.parse(JSON.stringify(whole)));
  // a different seed program must not silently continue someone else's run
  await assert.rejects(
    runGepaSearch({ ...richDeps(), seedProgram: { a: 'other', b: 'B' } }, options({ statePath, resume: true })),
    /different seed program/,
  );
});
