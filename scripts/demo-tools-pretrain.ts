/**
 * `npm run demo:tools-pretrain`: makes the model of the multi-turn tool demo in models/tools/ — a small
 * Llama-architecture model trained from scratch (cold-start SFT, `grpo sft`'s code path) on the embedded
 * multiplication task — and records in models/tools/calibration.json how it was made and what it reproduces.
 *
 * Calibration: the cold-start traces call the calculator 30% of the time and answer by hand otherwise. The model
 * learns both habits; greedy decoding takes the likelier one (by hand, rarely right), while sampling at
 * temperature 1 calls the tool about 30% of the time and is then right. RL has to discover that calling it pays.
 * Everything is seeded; on one machine two runs write identical files.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSft } from '../src/sft/run.ts';
import { parseSftConfig, type SftConfigInput } from '../src/sft/config.ts';
import { coldStartRecipe } from './cold-start-recipe.ts';
import { openModel } from '../src/model/open-model.ts';
import { writeHfModel } from '../src/model/io/hf-folder.ts';
import { parameterCount } from '../src/model/config.ts';
import { embeddedTask } from '../src/data/synthetic/index.ts';
import { evaluateModel } from '../src/trainer/evaluate.ts';
import { agentSetup } from '../src/trainer/agent-setup.ts';
import { loadTrainConfig } from '../src/trainer/config/load.ts';

const TOOLS_MODEL_DIR = fileURLToPath(new URL('../models/tools', import.meta.url));
/** the RL demo's config: its environment (calculator, plain format, two turns) is the one the model is measured in */
const DEMO_CONFIG = fileURLToPath(new URL('../configs/demo-tools.yaml', import.meta.url));

const TASK = 'embedded:multiplication';

/** The recipe (a `grpo sft` config). */
const CONFIG: SftConfigInput = coldStartRecipe({
  task: TASK,
  name: 'demo-tools-pretrain',
  examples: 30_000,
  taskOptions: { tool_rate: 0.3 },
  steps: 1500,
  maxSeqLen: 48,
});

/** Held-out measurements with the calculator in the loop: greedy, and 8 samples at temperature 1. */
const HELD_OUT = { seed: 1, size: 300, samples: 8, temperature: 1, sampleSeed: 11 };

async function main(): Promise<void> {
  const started = performance.now();
  const config = parseSftConfig(CONFIG, 'demo-tools-pretrain config');
  const trained = await runSft(config);
  const seconds = (performance.now() - started) / 1000;
  const { model, tokenizer } = openModel(trained.modelDir);
  const heldOut = embeddedTask(TASK).heldOut(HELD_OUT.size, HELD_OUT.seed);
  const agent = agentSetup(loadTrainConfig(DEMO_CONFIG), tokenizer)!.loopFor;
  try {
    const maxTokens = embeddedTask(TASK).maxCompletionTokens() + 8;
    const greedy = (await evaluateModel(model, tokenizer, heldOut, { maxTokens, agent })).report;
    const sampled = (
      await evaluateModel(model, tokenizer, heldOut, {
        maxTokens,
        agent,
        nSamples: HELD_OUT.samples,
        temperature: HELD_OUT.temperature,
        seed: HELD_OUT.sampleSeed,
      })
    ).report;
    mkdirSync(TOOLS_MODEL_DIR, { recursive: true });
    writeHfModel(TOOLS_MODEL_DIR, { config: model.config, weights: model.weights.save() }, { tokenizer, dtype: 'F32' });
    const calibration = {
      made_by: 'npm run demo:tools-pretrain (scripts/demo-tools-pretrain.ts)',
      task: TASK,
      parameters: parameterCount(model.config),
      safetensors_bytes: statSync(join(TOOLS_MODEL_DIR, 'model.safetensors')).size,
      train_steps: trained.train.steps,
      final_loss: trained.train.losses[trained.train.losses.length - 1],
      sft_config: config,
      held_out: {
        seed: HELD_OUT.seed,
        size: HELD_OUT.size,
        max_tokens: maxTokens,
        greedy: { accuracy: greedy.accuracy, tool_calls: greedy.tool_calls },
        sampled: {
          temperature: HELD_OUT.temperature,
          n: HELD_OUT.samples,
          seed: HELD_OUT.sampleSeed,
          accuracy: sampled.accuracy,
          pass_at_k: sampled.pass_at_k,
          tool_calls: sampled.tool_calls,
        },
      },
    };
    writeFileSync(join(TOOLS_MODEL_DIR, 'calibration.json'), JSON.stringify(calibration, null, 2) + '\n');
    console.log(
      `saved ${TOOLS_MODEL_DIR}: ${calibration.parameters} parameters, pretrained in ${seconds.toFixed(0)} s`,
    );
    console.log(
      `held-out (${HELD_OUT.size}): greedy accuracy=${greedy.accuracy.toFixed(3)} tool_calls=${greedy.tool_calls!.toFixed(2)}; ` +
        `T=1 accuracy=${sampled.accuracy.toFixed(3)} tool_calls=${sampled.tool_calls!.toFixed(2)} pass@${HELD_OUT.samples}=${sampled.pass_at_k.toFixed(3)}`,
    );
  } finally {
    model.free();
  }
}

await main();
