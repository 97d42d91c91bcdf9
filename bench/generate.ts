/**
 * Generation benchmark: tokens/s of grpo-ts's batched KV-cache decoding side by side with llama.cpp through
 * node-llama-cpp, on the same GGUF file, same thread count, same number of generated tokens, in one run.
 *   npm run bench:generate [-- --threads N --tokens K --device D --no-peer]
 * --device (default $GRPO_DEVICE, else auto) runs grpo-ts on a GPU; the llama.cpp peer stays on the CPU.
 * Models: stories260K (from ../shared/data, when present) and a random ~50M-parameter Llama this script writes.
 * The peer is installed on first use into bench/peer/ (npm, --omit=optional: no GPU variants).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLlamaCpp } from './peer.ts';
import { LlamaModel } from '../src/model/llama-model.ts';
import { loadModelWeights, writeGgufModel } from '../src/model/io/index.ts';
import { parameterCount, type LlamaConfig } from '../src/model/config.ts';
import { generate } from '../src/rollout/generate.ts';
import { defaultThreadCount } from '../src/engine/backend.ts';
import { Rng } from '../src/util/rng.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const threads = arg('threads', defaultThreadCount());
const maxTokens = arg('tokens', 128);
const device = process.argv.includes('--device')
  ? process.argv[process.argv.indexOf('--device') + 1]
  : (process.env.GRPO_DEVICE ?? 'auto');
const sharedModels = path.resolve(process.env.GRPO_SHARED_DATA ?? path.join(here, '../../shared/data'), 'models');

/** A random Llama of about 50M parameters with a synthetic SentencePiece-style vocabulary, saved as GGUF. */
function writeRandomModel(file: string): void {
  const config: LlamaConfig = {
    arch: 'llama',
    vocabSize: 8192,
    dim: 640,
    nLayers: 8,
    nHeads: 10,
    nKvHeads: 10,
    headDim: 64,
    ffnDim: 1728,
    ropeTheta: 10000,
    normEps: 1e-5,
    maxSeqLen: 2048,
    tieEmbeddings: false,
    qkvBias: false,
    qkNorm: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
  const model = new LlamaModel(config, { seed: 5, threads: 1 });
  const weights = model.weights.save();
  model.free();
  const rng = new Rng(9);
  // larger-than-init weights so the distribution is not uniform (sampling then does real work)
  for (const [name, t] of weights)
    if (!name.endsWith('norm.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal() * 0.05;
  const tokens = [
    '<unk>',
    '<s>',
    '</s>',
    ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
  ];
  const types = [2, 3, 3, ...new Array(256).fill(6)];
  while (tokens.length < config.vocabSize) {
    tokens.push(`▁w${tokens.length}`);
    types.push(1);
  }
  writeGgufModel(
    file,
    { config, weights },
    {
      vocab: {
        model: 'llama',
        tokens,
        scores: tokens.map((_, i) => -i),
        tokenTypes: types,
        bosId: 1,
        eosId: 2,
        unkId: 0,
        addBos: true,
      },
    },
  );
}

function ours(file: string, batch: number, precision: 'f32' | 'bf16' = 'f32'): number {
  const { config, weights } = loadModelWeights(file);
  const model = new LlamaModel(config, { weights, threads, device });
  try {
    generate(model, [[1]], { n: batch, maxTokens: 8, temperature: 1, eosTokenIds: [] }); // warm-up
    const t0 = performance.now();
    const out = generate(model, [[1]], {
      n: batch,
      maxTokens,
      temperature: batch === 1 ? 0 : 1,
      seed: 1,
      eosTokenIds: [],
      precision,
    });
    const tokens = out.reduce((s, c) => s + c.tokens.length, 0);
    return tokens / ((performance.now() - t0) / 1000);
  } finally {
    model.free();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function peer(_nlc: any, llama: any, file: string, batch: number): Promise<number> {
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({
    contextSize: (maxTokens + 8) * batch,
    sequences: batch,
    threads,
    batchSize: 512,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const run = async (seq: any, n: number, temperature: number) => {
    let count = 0;
    for await (const _ of seq.evaluate([1], { temperature, seed: 1 })) if (++count >= n) break;
    return count;
  };
  try {
    const seqs = Array.from({ length: batch }, () => context.getSequence());
    await Promise.all(seqs.map((s) => run(s, 8, 1))); // warm-up
    for (const s of seqs) await s.clearHistory();
    const t0 = performance.now();
    const counts = await Promise.all(seqs.map((s) => run(s, maxTokens, batch === 1 ? 0 : 1)));
    const tokens = counts.reduce((a, b) => a + b, 0);
    return tokens / ((performance.now() - t0) / 1000);
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

// --no-peer: grpo-ts alone (a machine without the registry, where the peer cannot be installed)
const withPeer = !process.argv.includes('--no-peer');
const nlc = withPeer ? await loadLlamaCpp() : null;
const llama = nlc ? await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error }) : null;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'grpo-bench-'));
const models: [string, string][] = [];
const stories = path.join(sharedModels, 'stories260K.gguf');
if (existsSync(stories)) models.push(['stories260K', stories]);
else console.log(`(${stories} not found: stories260K skipped)`);
const big = path.join(tmp, 'random-50M.gguf');
writeRandomModel(big);
models.push([`random Llama ${(parameterCount(loadModelWeights(big).config) / 1e6).toFixed(0)}M`, big]);

console.log(`device ${device}, threads ${threads}, ${maxTokens} new tokens per sequence; tokens/s (higher is better)`);
for (const [label, file] of models) {
  const r: Record<string, number> = {};
  for (const batch of [1, 16]) {
    r[`ours${batch}`] = ours(file, batch);
    r[`bf16_${batch}`] = ours(file, batch, 'bf16');
    if (llama) r[`peer${batch}`] = await peer(nlc, llama, file, batch);
  }
  console.log(`${label}:`);
  for (const batch of [1, 16]) {
    if (!llama)
      console.log(
        `  batch ${String(batch).padStart(2)}: grpo-ts ${r[`ours${batch}`].toFixed(0).padStart(6)}  grpo-ts bf16 ${r[`bf16_${batch}`].toFixed(0).padStart(6)}`,
      );
    else
      console.log(
        `  batch ${String(batch).padStart(2)}: grpo-ts ${r[`ours${batch}`].toFixed(0).padStart(6)}  llama.cpp ${r[`peer${batch}`].toFixed(0).padStart(6)}  ratio ${(r[`ours${batch}`] / r[`peer${batch}`]).toFixed(2)}×  | grpo-ts bf16 ${r[`bf16_${batch}`].toFixed(0).padStart(6)} (${(r[`bf16_${batch}`] / r[`peer${batch}`]).toFixed(2)}×)`,
      );
  }
  console.log(`  grpo-ts batch 16 / batch 1: ${(r.ours16 / r.ours1).toFixed(2)}×`);
}
await llama?.dispose();
rmSync(tmp, { recursive: true, force: true });
