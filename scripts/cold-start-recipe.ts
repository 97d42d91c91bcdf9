/**
 * The cold-start SFT recipe of the shipped demo models (demo-pretrain.ts, demo-tools-pretrain.ts): a small
 * Llama-architecture model trained from scratch on an embedded task, to convergence under a cosine schedule.
 */
import type { SftConfigInput } from '../src/sft/config.ts';

export function coldStartRecipe(o: {
  task: string;
  name: string;
  examples: number;
  taskOptions: Record<string, unknown>;
  steps: number;
  maxSeqLen: number;
}): SftConfigInput {
  return {
    stage: 'cold_start',
    seed: 7,
    name: o.name,
    out_dir: 'runs',
    progress: true,
    model: {
      path: null,
      init: { dim: 64, n_layers: 2, n_heads: 4, ffn_dim: 256, max_seq_len: o.maxSeqLen, init_seed: 1 },
    },
    data: { train: o.task, limit: o.examples, task_options: o.taskOptions },
    optimizer: {
      lr: 3e-3,
      schedule: 'cosine',
      warmup_steps: 100,
      min_lr_ratio: 0.1,
      weight_decay: 0.01,
      beta2: 0.99,
      max_grad_norm: 1,
    },
    training: { max_steps: o.steps, batch_size: 32, eval_every: 0, eval_final: false },
  };
}
