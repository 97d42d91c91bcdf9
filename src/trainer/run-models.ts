/**
 * What a training run opens before its first step: the tokenizer and prompts (their lengths size the memory plan),
 * then — once the plan fits the machine (memory-plan.ts) — the policy, and the frozen KL reference: with LoRA the
 * same base with adapters off (no second model in memory, as TRL does with PEFT), else a second copy of the starting
 * weights held in the policy's compute precision (bf16 products of f32 weights round as bf16-stored weights do).
 * Resuming, the policy comes from the checkpoint (with LoRA: its adapter on the run's base); the reference is
 * always the starting weights.
 */
import { openModel } from '../model/open-model.ts';
import { modelConfigOf } from '../model/io/index.ts';
import type { LlamaConfig } from '../model/config.ts';
import { checkLoraRank, type LoraOptions } from '../model/lora.ts';
import { loadTokenizer, loadTokenizerForModel, type Tokenizer } from '../model/tokenizer/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { resolvePrecision } from '../model/weight-copies.ts';
import { Backend } from '../engine/backend.ts';
import type { TrainConfig } from './config/schema.ts';
import type { RunPlan } from './run-plan.ts';
import type { EmbeddedTasks } from '../data/index.ts';
import { embeddedTaskSplits } from '../data/synthetic/index.ts';
import { runPrompts, promptBudget, type PromptSet } from './prompts.ts';
import { checkpointPolicy } from './checkpoint.ts';
import { loraOptions } from './config/lora-options.ts';
import { planTrainingMemory, checkMemoryPlan, memoryBudget, type MemoryPlan } from './memory-plan.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { agentSetup, type AgentOptions, type AgentSetup } from './agent-setup.ts';
import { trainerThreads } from './local-server-plan.ts';

/** The KL reference policy: a model, and whether its LoRA adapters count (false: the base alone). */
export interface Reference {
  model: LlamaModel;
  adapters: boolean;
}

export interface RunModels {
  model: LlamaModel;
  tokenizer: Tokenizer;
  prompts: { train: PromptSet; eval: PromptSet };
  ref: Reference | null;
  memory: MemoryPlan;
  /** the run's starting model (a LoRA adapter's base) */
  basePath: string;
  /** multi-turn runs: tools, format and environments */
  agent: AgentSetup | null;
  free(): void;
}

export async function openRunModels(
  config: TrainConfig,
  plan: RunPlan,
  opts: { resume?: string; tasks?: EmbeddedTasks } & AgentOptions,
): Promise<RunModels> {
  const basePath = resolveModelPath(config.model.path);
  const shape = modelConfigOf(basePath);
  if (config.model.lora) checkLoraRank(shape, loraOptions(config.model.lora));
  const tokenizer = config.model.tokenizer
    ? loadTokenizer(config.model.tokenizer)
    : loadTokenizerForModel(basePath, shape.vocabSize);
  const agent = agentSetup(config, tokenizer, opts);
  const prompts = await runPrompts(
    config,
    tokenizer,
    // the built-in embedded tasks, and the caller's beside them (or in their place, by name)
    { ...embeddedTaskSplits, ...opts.tasks },
    promptBudget(config, shape.maxSeqLen),
    agent?.toolSchemas,
  );
  const lora = config.model.lora ? loraOptions(config.model.lora) : undefined;
  const memory = planRunMemory(config, plan, { shape, lora, prompts });
  const { model, ref, free } = openPolicyAndReference(config, plan, { basePath, tokenizer, lora, resume: opts.resume });
  return { model, tokenizer, prompts, ref, memory, basePath, agent, free };
}

/**
 * The run's memory plan, checked against the memory of the device it runs on (training.check_memory). The
 * device's precision 'auto' resolves where the run computes (a GPU backend reports no CPU features: f32).
 */
function planRunMemory(
  config: TrainConfig,
  plan: RunPlan,
  run: { shape: LlamaConfig; lora?: LoraOptions; prompts: RunModels['prompts'] },
): MemoryPlan {
  const { shape, lora, prompts } = run;
  const probe = Backend.open({ device: config.model.device, threads: 1 });
  const { device } = probe;
  const precision = resolvePrecision(config.model.precision, probe);
  probe.free();
  const longestPrompt = Math.max(
    0,
    ...prompts.train.promptIds.map((p) => p.length),
    ...prompts.eval.promptIds.map((p) => p.length),
  );
  const memory = planTrainingMemory({
    config: shape,
    precision,
    lora,
    basePrecision: config.model.base_precision,
    separateReference: plan.algorithm.kl_beta > 0 && !lora,
    recompute: config.training.gradient_checkpointing,
    sequenceTokens: longestPrompt + config.rollout.max_tokens,
    sequencesPerPass: plan.passes.sequences,
    generationSlots: config.rollout.prompts_per_step * config.rollout.group_size,
  });
  if (config.training.check_memory) {
    const budget = memoryBudget(device);
    if (budget) checkMemoryPlan(memory, budget);
  }
  return memory;
}

/** The policy (from the checkpoint when resuming) and the KL reference, with what frees them both. */
function openPolicyAndReference(
  config: TrainConfig,
  plan: RunPlan,
  run: { basePath: string; tokenizer: Tokenizer; lora?: LoraOptions; resume?: string },
): Pick<RunModels, 'model' | 'ref' | 'free'> {
  const { basePath, lora } = run;
  const hasKl = plan.algorithm.kl_beta > 0;
  const resumed = run.resume ? checkpointPolicy(run.resume) : null;
  const common = {
    threads: trainerThreads(config),
    device: config.model.device,
    tokenizer: run.tokenizer,
    precision: config.model.precision,
  };
  const { model } = openModel(resumed?.model ?? basePath, {
    ...common,
    valueHead: plan.critic !== null,
    lora,
    basePrecision: config.model.base_precision,
    adapter: resumed?.adapter,
    recompute: config.training.gradient_checkpointing,
  });
  let refModel: LlamaModel | null = null;
  try {
    if (hasKl && !lora) refModel = openModel(basePath, { ...common, basePrecision: model.precision }).model;
  } catch (e) {
    model.free();
    throw e;
  }
  const ref: Reference | null = hasKl
    ? lora
      ? { model, adapters: false }
      : { model: refModel!, adapters: true }
    : null;
  return {
    model,
    ref,
    free: () => {
      model.free();
      refModel?.free();
    },
  };
}
