/**
 * `npm run demo:pretrain`: makes the embedded default model in models/embedded/ — a small Llama-architecture
 * model trained from scratch (cold-start SFT, `grpo sft`'s code path) on the embedded addition task — and
 * records in models/embedded/calibration.json how it was made and the held-out accuracy it reproduces.
 *
 * Calibration (the starting point of the GRPO demo): the cold-start traces come from a sloppy teacher that
 * forgets a due carry 70% of the time (data.task_options.carry_slip_rate). Trained to convergence, the model
 * learns the whole procedure but carries only ~30% of the time, so greedy decoding never carries and solves only
 * carry-free problems (~30%: both lower columns sum < 10, 0.55² ≈ 0.30), while sampling at temperature 1 often
 * does carry, so pass@8 is high. Reward-driven RL has to discover "always carry" — the gap GRPO exploits.
 * Training to convergence (rather than stopping early) makes the numbers a property of the data, not of the
 * exact stopping step, so they are stable across machines.
 *
 * Everything is seeded; on one machine two runs write identical files.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSft } from '../src/sft/run.ts';
import { parseSftConfig, type SftConfigInput } from '../src/sft/config.ts';
import { coldStartRecipe } from './cold-start-recipe.ts';
import { openModel } from '../src/model/open-model.ts';
import { writeHfModel } from '../src/model/io/hf-folder.ts';
import { parameterCount } from '../src/model/config.ts';
import { embeddedTask } from '../src/data/synthetic/index.ts';
import { EMBEDDED_CALIBRATION_FILE, EMBEDDED_MODEL_DIR } from '../src/data/synthetic/embedded-model.ts';
import { evaluateModel } from '../src/trainer/evaluate.ts';

const TASK = 'embedded:addition';

/** The recipe (a `grpo sft` config). */
const DEMO_PRETRAIN_CONFIG: SftConfigInput = coldStartRecipe({
  task: TASK,
  name: 'demo-pretrain',
  examples: 50_000,
  taskOptions: { carry_slip_rate: 0.7 },
  steps: 3000,
  maxSeqLen: 64,
});

/** Held-out measurements: greedy accuracy, and pass@8 at temperature 1 (both on the held-out split, seed 1). */
const HELD_OUT = { seed: 1, size: 500, passAtK: 8, temperature: 1, sampleSeed: 11 };
/** The small fixed subset the test re-scores (a prefix of the held-out draw above). */
const CHECK = { seed: 1, size: 128 };

async function main(): Promise<void> {
  const started = performance.now();
  const config = parseSftConfig(DEMO_PRETRAIN_CONFIG, 'demo-pretrain config');
  const trained = await runSft(config);
  const pretrainSeconds = (performance.now() - started) / 1000;

  // measure the saved checkpoint, as users will load it
  const { model, tokenizer } = openModel(trained.modelDir);
  const task = embeddedTask(TASK);
  const maxTokens = task.maxCompletionTokens() + 8;
  const heldOut = task.heldOut(HELD_OUT.size, HELD_OUT.seed);
  try {
    const greedy = (await evaluateModel(model, tokenizer, heldOut, { maxTokens })).report;
    const sampled = (
      await evaluateModel(model, tokenizer, heldOut, {
        maxTokens,
        nSamples: HELD_OUT.passAtK,
        temperature: HELD_OUT.temperature,
        seed: HELD_OUT.sampleSeed,
      })
    ).report;
    const check = (await evaluateModel(model, tokenizer, task.heldOut(CHECK.size, CHECK.seed), { maxTokens })).report;

    mkdirSync(join(EMBEDDED_MODEL_DIR, '..'), { recursive: true });
    writeHfModel(
      EMBEDDED_MODEL_DIR,
      { config: model.config, weights: model.weights.save() },
      { tokenizer, dtype: 'F32' },
    );
    const sizeBytes = statSync(join(EMBEDDED_MODEL_DIR, 'model.safetensors')).size;
    const calibration = {
      made_by: 'npm run demo:pretrain (scripts/demo-pretrain.ts)',
      task: TASK,
      parameters: parameterCount(model.config),
      safetensors_bytes: sizeBytes,
      train_steps: trained.train.steps,
      final_loss: trained.train.losses[trained.train.losses.length - 1],
      sft_config: config,
      held_out: {
        seed: HELD_OUT.seed,
        size: HELD_OUT.size,
        max_tokens: maxTokens,
        greedy: { accuracy: greedy.accuracy, format_rate: greedy.format_rate, mean_length: greedy.mean_length },
        sampled: {
          temperature: HELD_OUT.temperature,
          n: HELD_OUT.passAtK,
          seed: HELD_OUT.sampleSeed,
          accuracy: sampled.accuracy,
          pass_at_k: sampled.pass_at_k,
          format_rate: sampled.format_rate,
          mean_length: sampled.mean_length,
        },
      },
      // test/data/synthetic-embedded-model.test.ts re-scores this subset greedily and expects this count
      check: {
        seed: CHECK.seed,
        size: CHECK.size,
        max_tokens: maxTokens,
        greedy_correct: Math.round(check.accuracy * CHECK.size),
        greedy_accuracy: check.accuracy,
      },
    };
    writeFileSync(join(EMBEDDED_MODEL_DIR, EMBEDDED_CALIBRATION_FILE), JSON.stringify(calibration, null, 2) + '\n');
    // the time is printed, not recorded, so a rerun writes byte-identical files
    console.log(
      `saved ${EMBEDDED_MODEL_DIR}: ${calibration.parameters} parameters, ${(sizeBytes / 2 ** 20).toFixed(2)} MiB of F32 weights, pretrained in ${pretrainSeconds.toFixed(0)} s`,
    );
    console.log(
      `held-out (${HELD_OUT.size} problems): greedy accuracy=${greedy.accuracy.toFixed(3)} format_rate=${greedy.format_rate.toFixed(3)}; ` +
        `T=${HELD_OUT.temperature} accuracy=${sampled.accuracy.toFixed(3)} pass@${HELD_OUT.passAtK}=${sampled.pass_at_k.toFixed(3)} format_rate=${sampled.format_rate.toFixed(3)}`,
    );
    const ok = greedy.accuracy >= 0.2 && greedy.accuracy <= 0.45 && sampled.pass_at_k >= 0.7;
    if (!ok) {
      console.error(
        'demo:pretrain: calibration is off target (want greedy accuracy in [0.20, 0.45] and pass@8 ≥ 0.70); the model was saved anyway',
      );
      process.exitCode = 1;
    }
  } finally {
    model.free();
  }
}

await main();
