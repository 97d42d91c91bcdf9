/**
 * Training-step benchmark, side by side with PyTorch: forward + per-token-coefficient backward (Σ c·logp) + clipped
 * AdamW on a random batch, the same model shapes, batch and threads on both sides, in one run.
 *   npm run bench:train [-- --precision f32|bf16|both --threads N --steps K --configs reference,21m,qwen0.5b --peer-bf16 --device D]
 * --device (default $GRPO_DEVICE, else auto) runs grpo-ts on a GPU; the PyTorch peer stays on the CPU.
 * Prints, per config and precision, one line `…: grpo-ts N ms/step, PyTorch fp32 M ms/step, ratio M/N` (≥ 1: grpo-ts
 * is as fast or faster), then the split (forward, backward, AdamW) and achieved GFLOP/s against this CPU's measured
 * FP32 FMA peak (bench/peer/fma-peak.c, compiled on first use with the system C compiler).
 *
 * The peer is optional: Debian's python3-torch on OpenBLAS, installed on demand by scripts/install-torch-peer.sh
 * when missing (as root), and run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (they slow OpenBLAS down).
 * PyTorch's bf16 autocast is run too where the CPU has AVX-512 BF16 (or with --peer-bf16); elsewhere it is ~20×
 * slower than its fp32 and says nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaModel } from '../src/model/llama-model.ts';
import { parameterCount, type LlamaConfig } from '../src/model/config.ts';
import type { Precision } from '../src/model/weight-copies.ts';
import { Rng } from '../src/util/rng.ts';
import { defaultThreadCount } from '../src/engine/backend.ts';
import { ensureTorchPeer, torchTrainStep } from './peer.ts';
import { qwen05 } from './qwen-shaped.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = (name: string) => process.argv.includes(`--${name}`);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg('threads', String(defaultThreadCount())));
const precisions: Precision[] =
  arg('precision', 'both') === 'both' ? ['f32', 'bf16'] : [arg('precision', 'f32') as Precision];
const wanted = arg('configs', 'reference,21m,qwen0.5b').split(',');
const device = arg('device', process.env.GRPO_DEVICE ?? 'auto');

interface BenchConfig {
  key: string;
  label: string;
  config: LlamaConfig;
  B: number;
  T: number;
  steps: number;
}
const llama = {
  arch: 'llama',
  ropeTheta: 10000,
  normEps: 1e-5,
  maxSeqLen: 256,
  tieEmbeddings: false,
  qkvBias: false,
  qkNorm: false,
} as const;
const configs: BenchConfig[] = [
  {
    key: 'reference',
    label: 'reference (L2 d256 H4 SwiGLU 1024 V512)',
    B: 8,
    T: 128,
    steps: 8,
    config: { ...llama, vocabSize: 512, dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 4, headDim: 64, ffnDim: 1024 },
  },
  {
    key: '21m',
    label: '~21M (L6 d512 H8 SwiGLU 1408 V2048)',
    B: 8,
    T: 128,
    steps: 5,
    config: { ...llama, vocabSize: 2048, dim: 512, nLayers: 6, nHeads: 8, nKvHeads: 8, headDim: 64, ffnDim: 1408 },
  },
  // Qwen2.5-0.5B's exact shape (random weights): tied 151,936-token vocabulary, q/k/v bias, GQA 14:2, RoPE θ 1e6
  {
    key: 'qwen0.5b',
    label: 'Qwen2.5-0.5B-shaped (L24 d896 H14/2 SwiGLU 4864 V151936, tied)',
    B: 8,
    T: 160,
    steps: 2,
    config: qwen05,
  },
];
const steps = (c: BenchConfig) => Number(arg('steps', String(c.steps)));

/** Matmul FLOPs of one forward pass (2 per multiply-add); attention scores are computed for all T×T pairs. */
function forwardFlops(c: LlamaConfig, B: number, T: number): number {
  const N = B * T,
    q = c.nHeads * c.headDim,
    kv = c.nKvHeads * c.headDim;
  const perLayer =
    2 * N * (c.dim * q + 2 * c.dim * kv + q * c.dim + 3 * c.dim * c.ffnDim) + 2 * 2 * B * c.nHeads * T * T * c.headDim;
  return c.nLayers * perLayer + 2 * N * c.dim * c.vocabSize;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function ours(b: BenchConfig, precision: Precision) {
  const { config, B, T } = b;
  const model = new LlamaModel(config, { threads, seed: 1, padMultiple: 1, precision, device });
  try {
    model.createOptimizer();
    const rng = new Rng(1);
    const seqs = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => rng.int(config.vocabSize)));
    const coef = seqs.map(() => new Float32Array(T).fill(-1 / (B * T)));
    const fwd: number[] = [],
      bwd: number[] = [],
      opt: number[] = [],
      total: number[] = [];
    for (let i = 0; i < steps(b) + 1; i++) {
      const t0 = performance.now();
      const pass = model.forward(seqs, { grad: true });
      const t1 = performance.now();
      pass.backward({ logp: coef });
      const t2 = performance.now();
      model.optimizer.step({ lr: 1e-4, maxGradNorm: 1 });
      const t3 = performance.now();
      if (i >= 1) {
        fwd.push(t1 - t0);
        bwd.push(t2 - t1);
        opt.push(t3 - t2);
        total.push(t3 - t0);
      }
    }
    return { ms: median(total), fwd: median(fwd), bwd: median(bwd), opt: median(opt) };
  } finally {
    model.free();
  }
}

function peer(b: BenchConfig, dtype: 'f32' | 'bf16'): number {
  return torchTrainStep({ config: b.config, B: b.B, T: b.T, steps: steps(b), threads, dtype });
}

/** Measured FP32 FMA peak over `threads` threads, or the nominal one (clock × FLOP/cycle) without a C compiler. */
function cpuPeak(): { gflops: number; how: string } {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'grpo-peak-'));
  try {
    const exe = path.join(tmp, 'fma-peak');
    execFileSync('cc', ['-O2', '-pthread', path.join(here, 'peer', 'fma-peak.c'), '-o', exe], { stdio: 'ignore' });
    const r = JSON.parse(execFileSync(exe, [String(threads)], { encoding: 'utf8' })) as {
      gflops: number;
      vector_bits: number;
    };
    return { gflops: r.gflops, how: `measured, ${r.vector_bits}-bit FMA` };
  } catch {
    const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const ghz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? os.cpus()[0].speed) / 1000;
    const perCycle = /\bavx512f\b/.test(info) ? 64 : 32;
    return {
      gflops: threads * perCycle * ghz,
      how: `nominal ${ghz.toFixed(2)} GHz × ${perCycle} FLOP/cycle (no C compiler to measure it)`,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const hasPeer = !flag('no-peer') && ensureTorchPeer();
const peerBf16 =
  hasPeer &&
  (flag('peer-bf16') ||
    /\bavx512_bf16\b/.test(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''));
const peak = cpuPeak();
console.log(
  `device ${device}, threads ${threads}; FP32 peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how}); ratio = PyTorch ms / grpo-ts ms (≥ 1: grpo-ts as fast or faster)`,
);
for (const b of configs.filter((c) => wanted.includes(c.key))) {
  const flops = 3 * forwardFlops(b.config, b.B, b.T);
  const torch = hasPeer ? peer(b, 'f32') : null;
  const torchBf16 = peerBf16 ? peer(b, 'bf16') : null;
  const header = `${b.label}, ${(parameterCount(b.config) / 1e6).toFixed(1)}M params, batch ${b.B}×${b.T}`;
  for (const precision of precisions) {
    const r = ours(b, precision);
    const side =
      torch === null
        ? 'PyTorch not run'
        : `PyTorch fp32 ${torch.toFixed(0)} ms/step, ratio ${(torch / r.ms).toFixed(2)}`;
    const side16 =
      torchBf16 === null
        ? ''
        : `; PyTorch bf16 ${torchBf16.toFixed(0)} ms/step, ratio ${(torchBf16 / r.ms).toFixed(2)}`;
    console.log(`${header}, ${precision}: grpo-ts ${r.ms.toFixed(0)} ms/step, ${side}${side16}`);
    const gflops = flops / r.ms / 1e6;
    console.log(
      `  forward ${r.fwd.toFixed(0)}, backward ${r.bwd.toFixed(0)}, AdamW ${r.opt.toFixed(0)} ms; ${gflops.toFixed(1)} GFLOP/s = ${((100 * gflops) / peak.gflops).toFixed(0)}% of peak` +
        (torch === null
          ? ''
          : `; PyTorch ${(flops / torch / 1e6).toFixed(1)} GFLOP/s = ${((100 * flops) / torch / 1e6 / peak.gflops).toFixed(0)}%`),
    );
  }
}
