/** The shipped models/embedded/ loads and reproduces the greedy held-out accuracy demo:pretrain recorded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openModel } from '../../src/model/open-model.ts';
import { parameterCount } from '../../src/model/config.ts';
import { embeddedTask } from '../../src/data/synthetic/index.ts';
import {
  EMBEDDED_CALIBRATION_FILE,
  EMBEDDED_MODEL_DIR,
  resolveModelPath,
} from '../../src/data/synthetic/embedded-model.ts';
import { evaluateModel } from '../../src/trainer/evaluate.ts';

const calibration = JSON.parse(readFileSync(join(EMBEDDED_MODEL_DIR, EMBEDDED_CALIBRATION_FILE), 'utf8'));

test('the shipped model is small, in the calibrated band, and its tokenizer knows the task', () => {
  assert.equal(resolveModelPath('embedded'), EMBEDDED_MODEL_DIR);
  const bytes = statSync(join(EMBEDDED_MODEL_DIR, 'model.safetensors')).size;
  assert.ok(bytes <= 10 * 2 ** 20, `${bytes} bytes`);
  const greedy = calibration.held_out.greedy.accuracy,
    passAt8 = calibration.held_out.sampled.pass_at_k;
  assert.ok(greedy >= 0.2 && greedy <= 0.45, `recorded greedy accuracy ${greedy}`);
  assert.ok(passAt8 >= 0.7, `recorded pass@8 ${passAt8}`);
  const { model, tokenizer } = openModel(EMBEDDED_MODEL_DIR, { threads: 1 });
  try {
    assert.equal(parameterCount(model.config), calibration.parameters);
    const p = embeddedTask(calibration.task).heldOut(1, 1)[0];
    assert.equal(tokenizer.decode(tokenizer.encode(p.prompt + p.completion)), p.prompt + p.completion);
  } finally {
    model.free();
  }
});

test('greedy accuracy on the recorded held-out subset matches calibration.json', async () => {
  const { seed, size, max_tokens: maxTokens, greedy_correct: expected } = calibration.check;
  const { model, tokenizer } = openModel(EMBEDDED_MODEL_DIR, { threads: 1 });
  try {
    const { report } = await evaluateModel(model, tokenizer, embeddedTask(calibration.task).heldOut(size, seed), {
      maxTokens,
    });
    const correct = Math.round(report.accuracy * size);
    // identical on the machine that made it; float rounding on another CPU may flip a near-tie
    assert.ok(
      Math.abs(correct - expected) <= 2,
      `greedy solved ${correct} of ${size}, calibration.json says ${expected}`,
    );
    assert.equal(report.format_rate, 1);
  } finally {
    model.free();
  }
});
