/**
 * One whole GRPO step, side by side with PyTorch: the real `grpo train` on a Qwen2.5-0.5B-shaped folder (random BF16
 * weights, the real Qwen tokenizer; bench/qwen-shaped.ts) with LoRA (r 16, alpha 32, all seven projections), GSM8K
 * prompts through the chat template, 2 prompts × 4 completions, rewards math + format, preset grpo (KL β 0.04, so a
 * reference pass with the adapters off), beside a TRL-like PyTorch loop doing the same step on the very shapes grpo-ts
 * trained on (bench/peer/torch_grpo_step.py: HF-style KV-cache sampling of the left-padded batch, no-grad reference,
 * LoRA update with clip and AdamW), in bf16 (frozen bf16 base, autocast) and fp32.
 *   npm run bench:step [-- --shape chat,steady,ragged,system --steps 5 --threads N --precision auto|f32|bf16 --layers L --no-peer --json out.jsonl]
 * Shapes: chat (the default; 64 new tokens: a random-weight model rarely emits EOS, so completions run to max_tokens),
 * steady (chat on the same two prompts every step: identical steps, for the spread of step times),
 * ragged (stop string "x", in a few % of sampled tokens: roughly geometric completion lengths up to 128), system (a
 * ~300-token system prompt before each question). Each shape takes 10–15 minutes or more on 2 cores at full size
 * (grpo-ts's K steps, then PyTorch's K steps in bf16 and in fp32), hence one by default.
 * Prints per shape and stage (generate, prepare = reference scoring, update, whole step) grpo-ts's seconds and
 * PyTorch's, and the ratio PyTorch / grpo-ts (≥ 1: grpo-ts as fast or faster): medians over steps 2..K (step 1 builds
 * graphs and warms caches on both sides); then grpo-ts's steadiness (max/min step time over steps 2..K), the peak RSS
 * of both, and how much CPU other processes took meanwhile; then one JSON line per shape (or into --json FILE).
 * --layers L shrinks the model's 24 layers for a quick smoke run (--layers 2 --steps 2).
 * Prompts: ../shared/data/math/gsm8k_train.jsonl (or $GRPO_SHARED_DATA) when present, else a few built-in problems.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ensureTorchPeer, qwenTokenizerDir, torchGrpoStep, type TorchGrpoSteps } from './peer.ts';
import { qwen05, writeQwenShapedFolder } from './qwen-shaped.ts';
import { Backend, defaultThreadCount } from '../src/engine/backend.ts';
import { resolvePrecision, type PrecisionSetting } from '../src/model/weight-copies.ts';
import { loadTokenizer } from '../src/model/tokenizer/index.ts';
import { loadTrainConfig } from '../src/trainer/config/load.ts';
import { loadExamples, tokenizePrompts } from '../src/trainer/prompts.ts';
import './step-shapes.ts'; // the run configs name its reward type, and loadTrainConfig checks them here too

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const flag = (name: string) => process.argv.includes(`--${name}`);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg('threads', String(defaultThreadCount())));
const steps = Number(arg('steps', '5'));
const layers = Number(arg('layers', String(qwen05.nLayers)));
const precision = arg('precision', 'auto') as PrecisionSetting;
const jsonOut = arg('json', '');
const sharedData = path.resolve(process.env.GRPO_SHARED_DATA ?? path.join(root, '../shared/data'));
const promptsPerStep = 2,
  groupSize = 4,
  B = promptsPerStep * groupSize;

/** A system prompt of about 300 Qwen tokens, as instruction-following recipes put before each question. */
const SYSTEM =
  'You are a careful, patient mathematics tutor who helps students solve grade-school word problems. ' +
  'For every question, first restate what is being asked in your own words and list the quantities that are given, with their units. ' +
  'Then work through the problem one step at a time: write each intermediate calculation explicitly, say which operation you are ' +
  'performing and why, and keep track of units throughout. Prefer simple arithmetic over clever shortcuts, and double-check every ' +
  'multiplication and division. If the problem involves money, round to the nearest cent only at the very end; if it involves time, ' +
  'convert everything to the same unit before combining values. When a problem contains information that is not needed, point it out ' +
  'and ignore it. If a question is ambiguous, state the most natural interpretation and solve that one. After you reach an answer, ' +
  'verify it by substituting it back into the problem or by estimating whether its size is reasonable. Keep your explanation concise: ' +
  'short sentences, no repetition, and no more than about ten steps. Do not use code, tables or external tools. Finally, write the ' +
  'final answer as a single number, without units or commas, inside \\boxed{}, on its own line at the end of your response, for ' +
  'example \\boxed{42}. Never put anything other than the final number inside the box, and never give more than one boxed answer. ' +
  'If you realise that an earlier step was wrong, say so plainly, correct it, and continue from the corrected value.';

/**
 * microBatchGroups: groups per reference / update pass on both sides (training.micro_batch_groups; default all);
 * samePrompts: train on two prompts only, so every step samples the same shapes (identical steps)
 */
interface Shape {
  what: string;
  maxTokens: number;
  stop?: string[];
  system?: string;
  microBatchGroups?: number;
  samePrompts?: boolean;
}
const shapes: Record<string, Shape> = {
  chat: { what: 'chat template, 64 new tokens', maxTokens: 64 },
  // the steadiness target is over identical steps: the same two prompts every step, 64 tokens each completion
  steady: { what: 'chat template, 64 new tokens, the same two prompts every step', maxTokens: 64, samePrompts: true },
  // 1.7% of Qwen's tokens contain an "x" and a random-weight model samples them nearly uniformly (measured: 2–3% of
  // sampled tokens): completion lengths come out roughly geometric, mean ~40, a few cut at 128
  ragged: { what: 'chat template, stop string "x": ragged completions up to 128 tokens', maxTokens: 128, stop: ['x'] },
  // one group per pass: PyTorch's fp32 update of all 8 × ~460 tokens at once would hold ~20 GB of activations
  system: {
    what: 'chat template with a ~300-token system prompt, 64 new tokens, one group per pass',
    maxTokens: 64,
    system: SYSTEM,
    microBatchGroups: 1,
  },
};
const wanted = arg('shape', 'chat').split(',');
for (const s of wanted) if (!shapes[s]) throw new Error(`--shape ${s}: not one of ${Object.keys(shapes).join(', ')}`);

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

/**
 * GSM8K training prompts (64 of them, and a file of the first two), and a one-prompt held-out file: evaluation before
 * and after costs next to nothing.
 */
function writePrompts(dir: string): { train: string; two: string; eval: string } {
  const shared = path.join(sharedData, 'math', 'gsm8k_train.jsonl');
  const rows = existsSync(shared)
    ? readFileSync(shared, 'utf8').split('\n').filter(Boolean).slice(0, 64)
    : builtInProblems.map(([q, a]) => JSON.stringify({ question: q, answer: `… #### ${a}` }));
  const files = {
    train: path.join(dir, 'gsm8k.jsonl'),
    two: path.join(dir, 'gsm8k-two.jsonl'),
    eval: path.join(dir, 'gsm8k-eval.jsonl'),
  };
  writeFileSync(files.train, rows.join('\n') + '\n');
  writeFileSync(files.two, rows.slice(0, 2).join('\n') + '\n');
  writeFileSync(files.eval, rows[0] + '\n');
  return files;
}

function runConfig(
  dir: string,
  name: string,
  shape: Shape,
  modelDir: string,
  data: { train: string; two: string; eval: string },
  shapesFile: string,
): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      name,
      out_dir: dir,
      seed: 1,
      model: { path: modelDir, threads, precision, lora: {} },
      data: {
        train: shape.samePrompts ? data.two : data.train,
        eval: data.eval,
        eval_size: 1,
        template: 'chat',
        ...(shape.system ? { system: shape.system } : {}),
      },
      rollout: {
        prompts_per_step: promptsPerStep,
        group_size: groupSize,
        max_tokens: shape.maxTokens,
        ...(shape.stop ? { stop: shape.stop } : {}),
      },
      // bench_shapes (bench/step-shapes.ts, preloaded) scores 0 and records each completion's exact token count
      rewards: [
        { type: 'math' },
        { type: 'format', weight: 0.1 },
        { type: 'bench_shapes', weight: 0, options: { file: shapesFile } },
      ],
      algorithm: { preset: 'grpo' },
      optimizer: { lr: 1e-5 },
      // no checkpoint between steps (the end of a run always writes one, after the last step's timing)
      training: {
        steps,
        micro_batch_groups: shape.microBatchGroups ?? promptsPerStep,
        save_every: 0,
        save_minutes: 0,
        eval_max_tokens: 1,
        log_completions_every: 0,
      },
    }),
  );
  return file;
}

/** The real CLI under GNU time (peak RSS: its max resident set, the final save included). */
function trainRun(config: string): { seconds: number; peakGb: number | null; cpuSeconds: number } {
  const cmd = [
    process.execPath,
    '--import',
    'tsx',
    '--import',
    path.join(here, 'step-shapes.ts'),
    path.join(root, 'src/cli/main.ts'),
    'train',
    '--config',
    config,
  ];
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = spawnSync(
    gnuTime ? '/usr/bin/time' : cmd[0],
    gnuTime ? ['-f', 'maxrss_kb=%M cpu_s=%U+%S', ...cmd] : cmd.slice(1),
    { encoding: 'utf8', cwd: root, env: { ...process.env, GRPO_THREADS: String(threads) }, maxBuffer: 64 << 20 },
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`grpo train --config ${config} failed:\n${r.stderr.slice(-3000)}`);
  const kb = /maxrss_kb=(\d+)/.exec(r.stderr)?.[1];
  const cpu = /cpu_s=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  return {
    seconds,
    peakGb: kb ? (Number(kb) * 1024) / 1e9 : null,
    cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : 0,
  };
}

interface Stages {
  generate: number;
  prepare: number;
  update: number;
  step: number;
}
interface StepShape {
  prompts: number[];
  completions: number[];
}

/** Seconds per stage of each step, from metrics.jsonl. */
function stageTimes(runDir: string): Stages[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const m = JSON.parse(l);
      const [generate, prepare, update] = [m['time/generate_ms'], m['time/prepare_ms'], m['time/update_ms']].map(
        (ms: number) => ms / 1000,
      );
      return { generate, prepare, update, step: generate + prepare + update };
    });
}

/** Each step's prompt and completion lengths in tokens, one per sequence (the prompts tokenised as the run did). */
async function trainedShapes(config: string, shapesFile: string, tokenizerDir: string): Promise<StepShape[]> {
  const rows = readFileSync(shapesFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { prompt: string; completion: number });
  if (rows.length !== steps * B)
    throw new Error(`${shapesFile}: ${rows.length} completions recorded, expected ${steps} steps × ${B}`);
  const c = loadTrainConfig(config);
  const set = tokenizePrompts(await loadExamples(c.data.train, c, 'train', {}), c, loadTokenizer(tokenizerDir));
  const length = new Map(set.examples.map((e, i) => [e.prompt, set.promptIds[i].length]));
  return Array.from({ length: steps }, (_, s) => {
    const mine = rows.slice(s * B, (s + 1) * B);
    return { prompts: mine.map((r) => length.get(r.prompt)!), completions: mine.map((r) => r.completion) };
  });
}

/**
 * The share of the machine's CPU time that other processes took while `run` ran (its own CPU seconds, `cpuSeconds`,
 * left out; /proc/stat). Both sides use every core they are given, so anything else running distorts the comparison.
 */
function othersShare<T>(run: () => T, cpuSeconds: (r: T) => number): { result: T; others: number | null } {
  const sample = () => {
    if (!existsSync('/proc/stat')) return null;
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0), at: performance.now() };
  };
  const a = sample();
  const result = run();
  const b = sample();
  if (!a || !b) return { result, others: null };
  const busy = 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
  const own = cpuSeconds(result) / (((b.at - a.at) / 1000) * os.availableParallelism());
  return { result, others: Math.max(0, busy - own) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
/** steps 2..K (all of them when there is only one) */
const measured = <T>(xs: T[]) => (xs.length > 1 ? xs.slice(1) : xs);
const medianStages = (xs: Stages[]): Stages => ({
  generate: median(measured(xs).map((x) => x.generate)),
  prepare: median(measured(xs).map((x) => x.prepare)),
  update: median(measured(xs).map((x) => x.update)),
  step: median(measured(xs).map((x) => x.step)),
});
const torchStages = (t: TorchGrpoSteps): Stages[] =>
  t.steps.map((s) => ({
    generate: s.generate,
    prepare: s.reference,
    update: s.update,
    step: s.generate + s.reference + s.update,
  }));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function report(
  name: string,
  ours: Stages[],
  peakGb: number | null,
  trained: StepShape[],
  torch: Record<'bf16' | 'f32', TorchGrpoSteps | null>,
  resolved: string,
  busy: Record<string, number | null>,
) {
  const shape = shapes[name];
  const all = (k: keyof StepShape) => trained.flatMap((s) => s[k]);
  const lengths = (xs: number[]) =>
    `${Math.min(...xs)}–${Math.max(...xs)} (mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0)})`;
  const real = trained.map((s) => s.prompts.reduce((a, b) => a + b, 0) + s.completions.reduce((a, b) => a + b, 0));
  const padded = trained.map((s) => s.prompts.length * (Math.max(...s.prompts) + Math.max(...s.completions)));
  const micro = (shape.microBatchGroups ?? promptsPerStep) * groupSize;
  console.log(
    `\nshape ${name}: ${shape.what}; ${promptsPerStep} prompts × ${groupSize} completions, ${micro} sequences per reference / update pass, ${steps} steps`,
  );
  console.log(
    `  prompts ${lengths(all('prompts'))} tokens, completions ${lengths(all('completions'))}; tokens per step: ${median(measured(real))} real, ${median(measured(padded))} in PyTorch's padded batch (medians, steps 2..${steps})`,
  );
  const m = medianStages(ours);
  const tm = {
    bf16: torch.bf16 && medianStages(torchStages(torch.bf16)),
    f32: torch.f32 && medianStages(torchStages(torch.f32)),
  };
  const cell = (x: number | undefined, w: number, d = 1) => (x === undefined ? '–' : x.toFixed(d)).padStart(w);
  console.log(
    `  ${'stage'.padEnd(24)}${`grpo-ts ${resolved}`.padStart(13)}${'PyTorch bf16'.padStart(14)}${'PyTorch fp32'.padStart(14)}${'ratio bf16'.padStart(12)}${'ratio fp32'.padStart(12)}`,
  );
  const labels: Record<keyof Stages, string> = {
    generate: 'generate',
    prepare: 'prepare (reference)',
    update: 'update',
    step: 'whole step',
  };
  for (const k of Object.keys(labels) as (keyof Stages)[]) {
    const b = tm.bf16?.[k],
      f = tm.f32?.[k];
    console.log(
      `  ${labels[k].padEnd(24)}${cell(m[k], 11)} s${cell(b, 12)} s${cell(f, 12)} s${cell(b && b / m[k], 12, 2)}${cell(f && f / m[k], 12, 2)}`,
    );
  }
  const later = measured(ours).map((s) => s.step);
  const steadiness = Math.max(...later) / Math.min(...later);
  console.log(
    `  grpo-ts per step: ${ours.map((s) => s.step.toFixed(1)).join(', ')} s; steadiness (max/min, steps 2..${steps}) ${steadiness.toFixed(2)}; peak RSS ${peakGb?.toFixed(2) ?? '?'} GB` +
      (torch.bf16 || torch.f32
        ? `; PyTorch peak RSS ${[torch.bf16, torch.f32].map((t) => t?.peak_rss_gb.toFixed(2) ?? '–').join(' / ')} GB (bf16 / fp32)`
        : ''),
  );
  const who: Record<string, string> = { grpo_ts: 'grpo-ts', torch_bf16: 'PyTorch bf16', torch_f32: 'PyTorch fp32' };
  const share = Object.entries(busy)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${(100 * v!).toFixed(0)}% beside ${who[k]}`);
  const worst = Math.max(0, ...Object.values(busy).map((v) => v ?? 0));
  console.log(
    `  other processes took ${share.join(', ')} (share of the machine's CPU)${worst > 0.1 ? ': WARNING, the timings are distorted (run it again on a quiet machine)' : ''}`,
  );
  const stages = (s: Stages) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v)]));
  const ratio = (t: Stages | null) =>
    t && Object.fromEntries((Object.keys(m) as (keyof Stages)[]).map((k) => [k, round(t[k] / m[k])]));
  return {
    shape: name,
    what: shape.what,
    threads,
    layers,
    steps,
    precision: resolved,
    prompts_per_step: promptsPerStep,
    group_size: groupSize,
    micro_batch_sequences: micro,
    shapes: trained,
    tokens_real: real,
    tokens_padded: padded,
    grpo_ts: {
      per_step: ours.map(stages),
      median: stages(m),
      steadiness: round(steadiness),
      peak_rss_gb: peakGb && round(peakGb, 2),
    },
    torch_version: torch.bf16?.torch ?? torch.f32?.torch ?? null,
    torch_bf16: torch.bf16 && {
      per_step: torchStages(torch.bf16).map(stages),
      median: stages(tm.bf16!),
      peak_rss_gb: round(torch.bf16.peak_rss_gb, 2),
    },
    torch_f32: torch.f32 && {
      per_step: torchStages(torch.f32).map(stages),
      median: stages(tm.f32!),
      peak_rss_gb: round(torch.f32.peak_rss_gb, 2),
    },
    ratio_bf16: ratio(tm.bf16),
    ratio_f32: ratio(tm.f32),
    others_cpu_share: Object.fromEntries(Object.entries(busy).map(([k, v]) => [k, v === null ? null : round(v)])),
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'grpo-step-'));
try {
  const tokenizerDir = qwenTokenizerDir(sharedData);
  const config = { ...qwen05, nLayers: layers };
  const modelDir = path.join(dir, 'qwen2.5-0.5b-shaped');
  const wrote = writeQwenShapedFolder(modelDir, tokenizerDir, config);
  const probe = Backend.open({ threads: 1 });
  const resolved = resolvePrecision(precision, probe);
  probe.free();
  const hasPeer = !flag('no-peer') && ensureTorchPeer();
  let why = '';
  if (!process.argv.includes('--threads')) {
    // defaultThreadCount counts out the cores other processes kept busy over 200 ms as this started: say so
    const { others } = othersShare(
      () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000),
      () => 0,
    );
    why = ` (grpo-ts's default: one per physical core less those busy elsewhere${others === null ? '' : `; ${(100 * others).toFixed(0)}% of the CPU is busy elsewhere now`}; --threads N to choose)`;
  }
  console.log(
    `threads ${threads}${why}; grpo-ts precision ${resolved}; wrote a random-weight Qwen2.5-0.5B-shaped folder (${layers} layers, BF16) in ${wrote.toFixed(0)} s; tokenizer ${tokenizerDir}`,
  );
  const data = writePrompts(dir);
  const results = [];
  for (const name of wanted) {
    const shapesFile = path.join(dir, `${name}-shapes.jsonl`);
    const cfg = runConfig(dir, name, shapes[name], modelDir, data, shapesFile);
    console.log(`shape ${name}: grpo train, ${steps} steps …`);
    const { result: run, others } = othersShare(
      () => trainRun(cfg),
      (r) => r.cpuSeconds,
    );
    const trained = await trainedShapes(cfg, shapesFile, tokenizerDir);
    const torch = { bf16: null as TorchGrpoSteps | null, f32: null as TorchGrpoSteps | null };
    const busy: Record<string, number | null> = { grpo_ts: others };
    if (hasPeer) {
      for (const dtype of ['bf16', 'f32'] as const) {
        console.log(`shape ${name}: PyTorch ${dtype === 'f32' ? 'fp32' : dtype}, the same ${steps} steps …`);
        const microBatch = (shapes[name].microBatchGroups ?? promptsPerStep) * groupSize;
        const job = {
          config,
          threads,
          dtype,
          lora: { r: 16, alpha: 32 },
          steps: trained,
          microBatch,
          klBeta: 0.04,
          lr: 1e-5,
        };
        try {
          const r = othersShare(
            () => torchGrpoStep(job),
            (t) => t.cpu_s,
          );
          torch[dtype] = r.result;
          busy[`torch_${dtype}`] = r.others;
        } catch (e) {
          // a peer that cannot run a shape (fp32 with a long system prompt needs more memory than some machines have) leaves a gap, not the whole bench
          console.log(
            `shape ${name}: PyTorch ${dtype} failed (${(e as Error).message.split('\n')[0]}); its columns are left empty`,
          );
        }
      }
    }
    const result = report(name, stageTimes(path.join(dir, name)), run.peakGb, trained, torch, resolved, busy);
    results.push(result);
    // each shape's line as soon as it is measured: a later shape that fails loses nothing
    if (jsonOut) appendFileSync(jsonOut, JSON.stringify(result) + '\n');
  }
  if (jsonOut) console.log(`\nresults: ${jsonOut}`);
  else console.log('\n' + results.map((r) => JSON.stringify(r)).join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
