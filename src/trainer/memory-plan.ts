/**
 * How much memory a training run will hold, estimated before it starts from the model's shape and the run's
 * settings, so a run that cannot fit says so (with what takes the space and what to change) instead of being
 * killed by the kernel mid-run. Counted: the policy's weights as stored, their precision and transposed copies,
 * gradients and AdamW moments of what trains, a separate KL reference, activations of one micro-batch (or one layer
 * with gradient checkpointing), the log-prob head's chunks and kept probabilities, the generation KV cache, and the
 * runtime itself. Sequences are counted whole and padded: packed batches (model/packing.ts) need less.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { LlamaConfig } from '../model/config.ts';
import type { MatrixType } from '../model/llama-weights.ts';
import type { LoraOptions } from '../model/lora.ts';
import { loraSettings } from '../model/lora.ts';
import type { Precision } from '../model/weight-copies.ts';
import { VOCAB_CHUNK_ELEMENTS, HEAD_KEEP_BYTES } from '../model/pieces/token-head.ts';
import { GrpoError } from '../errors.ts';
import type { DeviceInfo } from '../engine/device.ts';

export interface MemoryPlanInput {
  config: LlamaConfig;
  precision: Precision;
  lora?: LoraOptions;
  basePrecision?: MatrixType;
  /** a second model (the starting weights) scores the KL reference */
  separateReference: boolean;
  recompute: boolean;
  /** longest sequence a training pass sees, and how many sequences one pass holds */
  sequenceTokens: number;
  sequencesPerPass: number;
  /** sequences decoded at once, and their context */
  generationSlots: number;
}

export interface MemoryPlan {
  parts: [string, number][];
  total: number;
}

const BYTES: Record<MatrixType, number> = { f32: 4, bf16: 2, q8_0: 34 / 32 };
/** Node, ggml and the graphs' metadata, measured around 0.3 GB */
const RUNTIME_BYTES = 0.4e9;

export function planTrainingMemory(p: MemoryPlanInput): MemoryPlan {
  const sizes = matrixSizes(p.config);
  const parts: [string, number][] = [
    ...(p.lora ? adapterWeightParts(p, sizes, p.lora) : fullWeightParts(p, sizes)),
    ...passParts(p, sizes),
  ];
  parts.push(['generation KV cache', p.generationSlots * p.sequenceTokens * p.config.nLayers * 2 * sizes.kv * 4]);
  parts.push(['runtime', RUNTIME_BYTES]);
  return { parts, total: parts.reduce((n, [, b]) => n + b, 0) };
}

/** Element counts of the model's weights, from its shape. */
interface MatrixSizes {
  /** a query's and a key's (or value's) width over all heads */
  q: number;
  kv: number;
  /** the layers' projection matrices */
  layerMatrices: number;
  embedding: number;
  /** the output head (0 when tied to the embedding) */
  head: number;
  /** norms, biases and the final norm */
  small: number;
  /** the matrices products read, which get precision and transposed copies */
  multiplied: number;
}

function matrixSizes(c: LlamaConfig): MatrixSizes {
  const q = c.nHeads * c.headDim,
    kv = c.nKvHeads * c.headDim;
  const layerMatrices = c.nLayers * (2 * c.dim * q + 2 * c.dim * kv + 3 * c.dim * c.ffnDim);
  const embedding = c.vocabSize * c.dim;
  const head = c.tieEmbeddings ? 0 : embedding;
  const small = c.nLayers * (2 * c.dim + (c.qkvBias ? q + 2 * kv : 0) + (c.qkNorm ? 2 * c.headDim : 0)) + c.dim;
  const multiplied = layerMatrices + (c.tieEmbeddings ? embedding : head);
  return { q, kv, layerMatrices, embedding, head, small, multiplied };
}

/** LoRA: the frozen base as stored and its transposed copy; the adapters with their gradients and moments. */
function adapterWeightParts(p: MemoryPlanInput, m: MatrixSizes, lora: LoraOptions): [string, number][] {
  const c = p.config;
  const storage = BYTES[p.basePrecision ?? 'bf16'];
  const s = loraSettings(lora);
  const adapted =
    c.nLayers *
    s.targetModules.reduce(
      (n, mod) =>
        n +
        s.r *
          (mod === 'q_proj'
            ? c.dim + m.q
            : mod === 'k_proj' || mod === 'v_proj'
              ? c.dim + m.kv
              : mod === 'o_proj'
                ? m.q + c.dim
                : c.dim + c.ffnDim),
      0,
    );
  return [
    [`frozen base (${p.basePrecision ?? 'bf16'})`, (m.layerMatrices + m.embedding + m.head) * storage + m.small * 4],
    ['transposed base for the backward', m.multiplied * storage],
    ['adapters, their gradients and AdamW moments', adapted * 16],
  ];
}

/** Full fine-tuning: f32 weights, their copies, gradients and AdamW moments, and a separate KL reference. */
function fullWeightParts(p: MemoryPlanInput, m: MatrixSizes): [string, number][] {
  const params = m.layerMatrices + m.embedding + m.head + m.small;
  const parts: [string, number][] = [['f32 weights', params * 4]];
  // bf16: a copy and a transposed copy at 2 bytes each; f32: one transposed copy at 4
  parts.push([p.precision === 'bf16' ? 'bf16 and transposed bf16 copies' : 'transposed f32 copies', m.multiplied * 4]);
  parts.push(['gradients and AdamW moments', params * 12]);
  if (p.separateReference)
    parts.push([
      `KL reference model (${p.precision})`,
      (m.layerMatrices + m.embedding + m.head) * (p.precision === 'bf16' ? 2 : 4),
    ]);
  return parts;
}

/** What one training pass holds: its activations, the log-prob head's chunks and the probabilities it keeps. */
function passParts(p: MemoryPlanInput, m: MatrixSizes): [string, number][] {
  const c = p.config;
  const tokens = p.sequenceTokens * p.sequencesPerPass;
  // f32 values kept per token and layer for the backward: residual and norm inputs and outputs, projections'
  // inputs and outputs, the SwiGLU pair and its product; plus the attention probabilities
  const perTokenLayer = 4 * (6 * c.dim + 3 * m.q + 2 * m.kv + 3 * c.ffnDim);
  const probs = 4 * p.sequencesPerPass * c.nHeads * p.sequenceTokens * p.sequenceTokens;
  const layersKept = p.recompute ? 1 : c.nLayers;
  const parts: [string, number][] = [
    [
      `activations (${tokens} tokens, ${p.recompute ? 'recomputed per layer' : `${c.nLayers} layers kept`})`,
      layersKept * (tokens * perTokenLayer + probs) + (p.recompute ? c.nLayers * tokens * c.dim * 4 : 0),
    ],
    ['log-prob head chunks', 4 * 4 * Math.min(VOCAB_CHUNK_ELEMENTS, c.vocabSize * tokens)],
  ];
  // the probabilities a pass keeps for its backward (token-head.ts), unless gradient checkpointing asks for less memory
  if (!p.recompute)
    parts.push([
      'kept head probabilities',
      Math.min(HEAD_KEEP_BYTES, c.vocabSize * tokens * (p.precision === 'bf16' ? 2 : 4)),
    ]);
  return parts;
}

/**
 * Memory this process may still use: GRPO_MEMORY_LIMIT_GB if set, else what the machine has available (Linux's
 * MemAvailable, which os.freemem reports: free plus reclaimable cache), or the cgroup's headroom (its limit less its
 * usage) when lower.
 */
export function availableMemory(): number {
  const env = Number(process.env.GRPO_MEMORY_LIMIT_GB);
  if (env > 0) return env * 1e9;
  let free = os.freemem();
  for (const [limitFile, usageFile] of [
    ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes'],
  ]) {
    const limit = readNumber(limitFile);
    const usage = readNumber(usageFile);
    if (limit > 0) free = Math.min(free, Math.max(0, limit - (Number.isFinite(usage) ? usage : 0)));
  }
  return free;
}

/** A cgroup file's number; NaN when absent or 'max' (no limit). */
function readNumber(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return Number.NaN;
  }
}

const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;

export function describePlan(plan: MemoryPlan): string {
  return plan.parts.map(([what, b]) => `${what} ${gb(b)}`).join(', ');
}

/** Where a run's tensors live, and how much of it there is to use. */
export interface MemoryBudget {
  bytes: number;
  /** "this machine has", or the GPU by name */
  where: string;
  /** the runtime (Node, ggml's metadata) lives in host memory, not in this budget */
  runtimeElsewhere?: boolean;
}

/**
 * A run on a GPU holds its weights, optimizer state, activations and KV cache in the GPU's memory, so the plan is
 * checked against what the device reports free (less the host-side runtime); on the CPU against the machine's.
 * null: nothing to check against (a backend that reports no memory).
 */
export function memoryBudget(device: DeviceInfo): MemoryBudget | null {
  if (device.kind === 'cpu' || process.env.GRPO_MEMORY_LIMIT_GB)
    return { bytes: availableMemory(), where: 'this machine has' };
  return device.memoryFree > 0
    ? { bytes: device.memoryFree, where: `${device.name} (${device.description}) has`, runtimeElsewhere: true }
    : null;
}

/** Throw before anything is allocated when the plan does not fit the memory available. */
export function checkMemoryPlan(plan: MemoryPlan, available: number | MemoryBudget = availableMemory()): void {
  const budget: MemoryBudget =
    typeof available === 'number' ? { bytes: available, where: 'this machine has' } : available;
  const needed = plan.total - (budget.runtimeElsewhere ? RUNTIME_BYTES : 0);
  if (needed <= budget.bytes) return;
  throw new GrpoError(
    'memory',
    `this run needs about ${gb(needed)} and ${budget.where} ${gb(budget.bytes)} free: ${describePlan(plan)}. ` +
      'To fit: train LoRA adapters (model.lora: {}, base held in bf16 or q8_0), set training.gradient_checkpointing: true, ' +
      'lower training.micro_batch_groups (or micro_batch_sequences), rollout.prompts_per_step × group_size (the generation KV cache), or shorten rollout.max_tokens / data.max_prompt_tokens. ' +
      'training.check_memory: false skips this check.',
  );
}
