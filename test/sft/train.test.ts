import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EpochBatcher,
  fitToLength,
  microBatches,
  nllCoefficients,
  nllOf,
  sequenceOf,
  completionStart,
  tokenizeSftPairs,
} from '../../src/sft/batches.ts';
import { encodePrompt } from '../../src/data/templates.ts';
import { saveSftModel, trainSft, plannedSteps, type SftOptions } from '../../src/sft/train.ts';
import { openModel } from '../../src/model/open-model.ts';
import { createCharTokenizer } from '../../src/model/tokenizer/char-tokenizer.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';
import { initialWeights, maxRelativeDifference, task, tinyModel, tokenizer } from './helpers.ts';

const examples = tokenizeSftPairs(tokenizer, task.train(64, 3));

function run(opts: Partial<SftOptions> & { seed?: number; modelSeed?: number }, data = examples) {
  const model = tinyModel(opts.modelSeed ?? 1);
  model.createOptimizer({});
  return { model, result: trainSft(model, data, { batchSize: 8, lr: 3e-3, schedule: 'constant', ...opts }) };
}

test('tokenized pairs: BOS-prefixed prompt, completion ending in EOS; the loss coefficients cover the completion only', () => {
  const [e] = tokenizeSftPairs(tokenizer, [
    { prompt: '12+5=', completion: '<think>2+5=7,1+0=1</think><answer>17</answer>' },
  ]);
  assert.deepEqual(e.prompt, tokenizer.encode('12+5='));
  assert.equal(e.prompt[0], tokenizer.bosId);
  assert.equal(e.completion[e.completion.length - 1], tokenizer.eosIds[0]);
  assert.deepEqual(
    encodePrompt(tokenizer, '<s>12+5='),
    e.prompt,
    'a prompt that already starts with BOS gets no second one',
  );
  const batch = examples.slice(0, 3);
  const N = batch.reduce((n, x) => n + x.completion.length, 0);
  const coef = nllCoefficients(batch, N);
  batch.forEach((x, i) => {
    assert.equal(completionStart(x), x.prompt.length - 1);
    assert.equal(coef[i].length, sequenceOf(x).length - 1 - completionStart(x), 'one coefficient per completion token');
    for (let t = 0; t < coef[i].length; t++) assert.equal(coef[i][t], Math.fround(-1 / N));
  });
  const logp = batch.map((x) => Float32Array.from({ length: x.completion.length }, (_, t) => -0.01 * (t + 1)));
  const manual = -batch.reduce((s, _x, i) => s + [...logp[i]].reduce((a, b) => a + b, 0), 0) / N;
  assert.ok(Math.abs(nllOf(batch, logp, N) - manual) < 1e-12);
  assert.deepEqual(fitToLength(examples, 20).dropped, examples.length);
});

test('a tool response inside a completion is tokenized on its own and read as context: no loss, no count', () => {
  const calc = createCharTokenizer(embeddedTask('embedded:multiplication').vocabulary);
  const completion = '<calculator>12*34</calculator><tool_response>408</tool_response><answer>408</answer>';
  const [e] = tokenizeSftPairs(calc, [{ prompt: '12*34=', completion }], undefined, { maskToolResponses: true });
  const [plain] = tokenizeSftPairs(calc, [{ prompt: '12*34=', completion }]);
  assert.deepEqual(e.completion, plain.completion, 'the same tokens (a character tokenizer splits the same way)');
  const inserted = calc.encode('<tool_response>408</tool_response>', { addBos: false }).length;
  const start = calc.encode('<calculator>12*34</calculator>', { addBos: false }).length;
  assert.deepEqual(
    e.completionMask,
    e.completion.map((_, k) => (k >= start && k < start + inserted ? 0 : 1)),
  );
  assert.equal(plain.completionMask, undefined);
  const N = e.completion.length - inserted;
  const coef = nllCoefficients([e], N);
  coef[0].forEach((c, k) =>
    assert.equal(c, e.completionMask![k] === 0 ? 0 : Math.fround(-1 / N), `completion token ${k}`),
  );
  const logp = [Float32Array.from({ length: coef[0].length }, (_, t) => -0.1 * (t + 1))];
  const manual = -[...logp[0]].reduce((s, x, t) => s + (coef[0][t] === 0 ? 0 : x), 0) / N;
  assert.ok(Math.abs(nllOf([e], logp, N) - manual) < 1e-12);
});

test('batches are whole examples from a seeded shuffle: every example once per epoch', () => {
  const b = new EpochBatcher(10, 4, 7);
  const seen = [...b.next(), ...b.next(), ...b.next().slice(0, 2)];
  assert.deepEqual(
    [...seen].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(b.epoch, 1, 'the third batch crossed into epoch 1');
  const again = new EpochBatcher(10, 4, 7);
  assert.deepEqual([again.next(), again.next()].flat(), seen.slice(0, 8));
  assert.deepEqual(microBatches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.equal(plannedSteps(100, { batchSize: 8, epochs: 2 }), 25);
  assert.equal(plannedSteps(100, { batchSize: 8, steps: 3 }), 3);
});

test('SFT overfits 8 examples: completion NLL falls from ≈ ln V to below 0.05', async () => {
  const few = examples.slice(0, 8);
  const { model, result } = run({ steps: 150, lr: 1e-2, warmupSteps: 10, schedule: 'cosine', minLrRatio: 0.1 }, few);
  const r = await result;
  const pass = model.forward(few.map(sequenceOf), { logprobsFrom: few.map(completionStart) });
  const final = nllOf(
    few,
    pass.logp,
    few.reduce((n, e) => n + e.completion.length, 0),
  );
  model.free();
  assert.ok(
    Math.abs(r.losses[0] - Math.log(tokenizer.vocabSize)) < 0.5,
    `initial loss ${r.losses[0]} should be near ln ${tokenizer.vocabSize}`,
  );
  assert.ok(final < 0.05, `final completion NLL ${final}`);
});

test('gradient accumulation: a batch split into micro-batches gives the same gradients and updates as the whole batch', async () => {
  // grad_norm (before clipping) checks the gradient's scale, which AdamW's update alone would hide
  const norms: number[][] = [[], []];
  const whole = run({ steps: 3, batchSize: 8, maxGradNorm: 1e9, onStep: (l) => norms[0].push(l.grad_norm) });
  const split = run({
    steps: 3,
    batchSize: 8,
    microBatchSize: 3,
    maxGradNorm: 1e9,
    onStep: (l) => norms[1].push(l.grad_norm),
  });
  const [a, b] = [await whole.result, await split.result];
  a.losses.forEach((x, i) => assert.ok(Math.abs(x - b.losses[i]) < 1e-5, `step ${i} loss ${x} vs ${b.losses[i]}`));
  norms[0].forEach((x, i) =>
    assert.ok(Math.abs(x - norms[1][i]) / x < 1e-5, `step ${i} grad norm ${x} vs ${norms[1][i]}`),
  );
  const diff = maxRelativeDifference(whole.model.weights.save(), split.model.weights.save());
  const moved = maxRelativeDifference(whole.model.weights.save(), initialWeights(1));
  whole.model.free();
  split.model.free();
  assert.ok(moved > 1e-3, 'the steps changed the weights');
  assert.ok(diff < 1e-5, `weights differ by ${diff} (relative)`);
});

test('determinism: two runs from one seed give identical losses; another data seed gives others', async () => {
  const losses = async (seed: number) => {
    const { model, result } = run({
      steps: 12,
      seed,
      batchSize: 4,
      microBatchSize: 2,
      warmupSteps: 3,
      schedule: 'linear',
    });
    const r = await result;
    model.free();
    return r.losses;
  };
  const first = await losses(5);
  assert.deepEqual(await losses(5), first);
  assert.notDeepEqual(await losses(6), first);
});

test('one JSONL line per step; the eval hook runs every N steps, is logged with eval_ keys, and can stop training', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-sft-'));
  try {
    const metricsPath = join(dir, 'metrics.jsonl');
    const calls: number[] = [];
    const { model, result } = run({
      steps: 10,
      metricsPath,
      evalEvery: 3,
      evaluate: (step) => {
        calls.push(step);
        return { accuracy: step / 10 };
      },
      stopWhen: (m) => m.accuracy >= 0.6,
    });
    const r = await result;
    const lines = readFileSync(metricsPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(calls, [3, 6]);
    assert.equal(r.steps, 6);
    assert.equal(r.stoppedEarly, true);
    assert.equal(lines.length, 6);
    for (const key of ['step', 'epoch', 'loss', 'lr', 'grad_norm', 'tokens', 'completion_tokens', 'step_ms'])
      assert.equal(typeof lines[0][key], 'number', key);
    assert.equal(lines[2].eval_accuracy, 0.3);
    assert.equal(lines[1].eval_accuracy, undefined);
    assert.deepEqual(
      lines.map((l) => l.loss),
      r.losses,
    );

    // the final checkpoint loads back with its tokenizer and computes the same log-probs
    saveSftModel(join(dir, 'model'), model, tokenizer);
    const opened = openModel(join(dir, 'model'), { threads: 1 });
    const seqs = examples.slice(0, 2).map(sequenceOf);
    const want = model.forward(seqs).logp,
      got = opened.model.forward(seqs).logp;
    want.forEach((w, i) => w.forEach((x, t) => assert.ok(Math.abs(x - got[i][t]) < 1e-6)));
    assert.deepEqual(opened.tokenizer.encode('12+5='), tokenizer.encode('12+5='));
    opened.model.free();
    model.free();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad inputs are one clear error; non-finite steps are skipped, then training stops', async () => {
  const model = tinyModel(1);
  model.createOptimizer({});
  await assert.rejects(trainSft(model, [], { batchSize: 2, lr: 1e-3 }), /no examples/);
  await assert.rejects(
    trainSft(model, examples, { batchSize: 2, lr: 1e-3, steps: 5, warmupSteps: 5 }),
    /warm-up \(5 steps\) must be shorter/,
  );
  const long = [{ prompt: [1], completion: new Array(80).fill(5) }];
  await assert.rejects(trainSft(model, long, { batchSize: 1, lr: 1e-3 }), /more than the model's maxSeqLen 64/);
  model.free();

  const weights = initialWeights(1);
  weights.get('model.embed_tokens.weight')!.data.fill(NaN);
  const broken = tinyModel(1, weights);
  broken.createOptimizer({});
  await assert.rejects(
    trainSft(broken, examples, { batchSize: 2, lr: 1e-3, steps: 10, maxConsecutiveSkips: 3 }),
    /3 steps in a row had a non-finite loss/,
  );
  broken.free();
});
