/**
 * Where a real-scale GRPO update goes (issue 23's breakdown, docs/performance.md): the Qwen2.5-0.5B-shaped random-weight
 * folder (bench/qwen-shaped.ts) with LoRA, one GRPO step's packed batch (2 prompts × 4 completions), through the library:
 *   1. the passes as `grpo train` runs them — the reference pass (adapters off), the update's forward and backward and
 *      AdamW — three times at one shape and once at another (first use: graph build and first touch; steady: reuse);
 *   2. the steady update and reference graphs op by op (engine/graph-profile.ts), summed per piece of the model.
 *   npm run bench:breakdown [-- --threads N --layers L --precision auto|f32|bf16 --prompts 78,74 --completions 64,64,64,64 --full --json out.json]
 * --full trains every weight (f32) instead of LoRA adapters on a bf16 base.
 */
import os from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { openModel } from '../src/model/open-model.ts';
import { packSequences } from '../src/model/packing.ts';
import { BatchGraph, shapeOf } from '../src/model/batch-graph.ts';
import { ComputeGraph } from '../src/engine/graph.ts';
import type { NodeTiming } from '../src/engine/graph-profile.ts';
import { defaultThreadCount } from '../src/engine/backend.ts';
import type { PrecisionSetting } from '../src/model/weight-copies.ts';
import { qwen05, writeQwenShapedFolder } from './qwen-shaped.ts';
import { qwenTokenizerDir } from './peer.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const numbers = (s: string) => s.split(',').map(Number);
const threads = Number(arg('threads', String(defaultThreadCount())));
const layers = Number(arg('layers', String(qwen05.nLayers)));
const full = process.argv.includes('--full');
const promptLengths = numbers(arg('prompts', '78,74'));
const completionLengths = numbers(arg('completions', '64,64,64,64'));
const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const sharedData = path.resolve(process.env.GRPO_SHARED_DATA ?? path.join(root, '../shared/data'));

const folder = path.join(os.tmpdir(), `grpo-qwen0.5b-shaped-L${layers}`);
writeQwenShapedFolder(folder, qwenTokenizerDir(sharedData), { ...qwen05, nLayers: layers });
const { model } = openModel(folder, {
  threads,
  precision: arg('precision', 'auto') as PrecisionSetting,
  ...(full ? { basePrecision: 'f32' } : { lora: {} }),
});
model.createOptimizer();
console.log(
  `Qwen2.5-0.5B-shaped, ${layers} layers, ${full ? 'full fine-tuning (f32 weights)' : 'LoRA r 16 on a bf16 base'}, precision ${model.precision}, threads ${threads}`,
);

let seed = 7;
const token = () => (seed = (seed * 1103515245 + 12345) >>> 0) % 150000;
function batch(completions: number[]) {
  const seqs: number[][] = [],
    from: number[] = [];
  for (const P of promptLengths) {
    const prompt = Array.from({ length: P }, token);
    for (const C of completions) {
      seqs.push([...prompt, ...Array.from({ length: C }, token)]);
      from.push(P - 1);
    }
  }
  return { seqs, from };
}

// 1. whole passes, as the trainer runs them
const computeMs = { forward: 0, backward: 0 };
const timed = (name: 'computeForward' | 'computeBackward', key: keyof typeof computeMs) => {
  const orig = ComputeGraph.prototype[name];
  ComputeGraph.prototype[name] = function (this: ComputeGraph) {
    const t = performance.now();
    orig.call(this);
    computeMs[key] = performance.now() - t;
  };
};
timed('computeForward', 'forward');
timed('computeBackward', 'backward');
const s = (ms: number) => (ms / 1000).toFixed(2).padStart(6);
const ragged = completionLengths.map((c, i) => Math.max(1, Math.round(c * [0.3, 1, 0.6, 0.8][i % 4])));
const rows: Record<string, number>[] = [];
console.log('\npass timings, s (compute in brackets; the rest is graph build, input upload and reading results):');
for (const [label, lens] of [
  ['first use', completionLengths],
  ['steady', completionLengths],
  ['steady', completionLengths],
  ['new shape', ragged],
] as const) {
  const { seqs, from } = batch([...lens]);
  let t = performance.now();
  model.forward(seqs, { adapters: full, logprobsFrom: from });
  const ref = performance.now() - t,
    refCompute = computeMs.forward;
  t = performance.now();
  const pass = model.forward(seqs, { grad: true, entropy: true, entropyGrad: false, logprobsFrom: from });
  const fwd = performance.now() - t,
    fwdCompute = computeMs.forward;
  t = performance.now();
  pass.backward({ logp: pass.logp.map((r) => Array.from(r, () => -1e-3)) });
  const bwd = performance.now() - t;
  t = performance.now();
  model.optimizer.step({ lr: 1e-6, maxGradNorm: 1 });
  const adamw = performance.now() - t;
  rows.push({ reference: ref, forward: fwd, backward: bwd, adamw, update: fwd + bwd + adamw });
  console.log(
    `  ${label.padEnd(9)} (${seqs.reduce((n, q) => n + q.length, 0)} tokens, ${seqs.length} sequences): reference ${s(ref)} [${s(refCompute)}] | update ${s(fwd + bwd + adamw)} = forward ${s(fwd)} [${s(fwdCompute)}] + backward ${s(bwd)} [${s(computeMs.backward)}] + AdamW ${s(adamw)}`,
  );
}

// 2. op by op: the steady graphs of the same shape, built here so their parts can be profiled
const { seqs, from } = batch(completionLengths);
const packed = packSequences(seqs, { logprobsFrom: from });
console.log(
  `\npacked: ${packed.realTokens} tokens (of ${seqs.reduce((n, q) => n + q.length, 0)} unpacked), ${packed.realItems} scored items, attention families ${packed.families.map((f) => `${f.rows}×[${f.queries} q × ${f.keys} k]`).join(', ')}`,
);
const copies = model.weightCopies();
const opt = model.optimizer;
function profileGraph(kind: 'train' | 'score'): { forward: NodeTiming[]; backward: NodeTiming[]; buildMs: number } {
  const t = performance.now();
  const g = new BatchGraph(model.backend, model.weights, {
    kind,
    shape: shapeOf(packed),
    entropy: kind === 'train' ? 'value' : 'none',
    temperature: 1,
    copies,
    gradAccumulators: kind === 'train' ? opt.gradAccumulators : undefined,
    lora: kind === 'train' || full ? model.lora : null,
  });
  const buildMs = performance.now() - t;
  try {
    const coefficients = () => {
      g.coefLogp?.write(new Float32Array(g.M).fill(-1e-3));
      g.coefValue?.write(new Float32Array(g.M));
    };
    // warm: the memory is touched once before it is timed
    g.writeInputs(packed, model.dropoutRng);
    g.graph.computeForward();
    coefficients();
    if (kind === 'train') g.graph.computeBackward();
    g.writeInputs(packed, model.dropoutRng);
    const forward = g.graph.profile('forward');
    coefficients();
    const backward = kind === 'train' ? g.graph.profile('backward') : [];
    return { forward, backward, buildMs };
  } finally {
    g.free();
    opt.zeroGrad();
  }
}

const V = model.config.vocabSize;
/** The piece of the model a node belongs to, from its op, its shape and the named tensors it reads. */
function piece(n: NodeTiming): string {
  const reads = n.reads.join(' ');
  if (n.op === 'MUL_MAT') {
    if (/lm_head|embed_tokens/.test(reads) || n.ne[0] === V || n.ne[1] === V) return 'head products';
    if (/lora_/.test(reads)) return 'LoRA products';
    if (/_proj\./.test(reads)) return 'projection products';
    if (n.ne[2] * n.ne[3] > 1) return 'attention products';
    return 'weight-gradient products';
  }
  if (n.op === 'OPT_STEP_ADAMW') return 'AdamW';
  if (n.ne[0] === V || n.ne[1] === V || /flat_targets|target_ids|item_node/.test(reads))
    return 'head: softmax, log-probs, entropy';
  if (n.op === 'SOFT_MAX' || /attention_mask/.test(reads)) return 'attention softmax';
  if (['GET_ROWS', 'GET_ROWS_BACK', 'CONCAT', 'CONT', 'CPY', 'DUP'].includes(n.op)) return 'gathers, layouts, casts';
  return 'norms, RoPE, SwiGLU, residuals';
}
function table(title: string, parts: { name: string; nodes: NodeTiming[] }[]): Record<string, Record<string, number>> {
  const byPiece: Record<string, Record<string, number>> = {};
  for (const { name, nodes } of parts)
    for (const n of nodes) (byPiece[piece(n)] ??= {})[name] = (byPiece[piece(n)]?.[name] ?? 0) + n.ms;
  const totals = Object.fromEntries(parts.map(({ name, nodes }) => [name, nodes.reduce((t, n) => t + n.ms, 0)]));
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  console.log(`\n${title} (op by op, s; share of the sum):`);
  console.log(`  ${'piece'.padEnd(36)}${parts.map((p) => p.name.padStart(10)).join('')}     share`);
  for (const [k, v] of Object.entries(byPiece).sort(
    (a, b) => Object.values(b[1]).reduce((x, y) => x + y, 0) - Object.values(a[1]).reduce((x, y) => x + y, 0),
  )) {
    const sum = Object.values(v).reduce((a, b) => a + b, 0);
    console.log(
      `  ${k.padEnd(36)}${parts.map((p) => s(v[p.name] ?? 0).padStart(10)).join('')}  ${((100 * sum) / all).toFixed(1).padStart(6)}%`,
    );
  }
  console.log(`  ${'sum'.padEnd(36)}${parts.map((p) => s(totals[p.name]).padStart(10)).join('')}`);
  return byPiece;
}
const train = profileGraph('train'),
  score = profileGraph('score');
const update = table('update pass', [
  { name: 'forward', nodes: train.forward },
  { name: 'backward', nodes: train.backward },
]);
const reference = table('reference pass', [{ name: 'forward', nodes: score.forward }]);
console.log(
  `\ngraph build (TypeScript, ggml metadata, memory plan): update ${train.buildMs.toFixed(0)} ms, reference ${score.buildMs.toFixed(0)} ms; nodes: update ${train.forward.length}+${train.backward.length}, reference ${score.forward.length}`,
);
const out = arg('json', '');
if (out)
  writeFileSync(
    out,
    JSON.stringify(
      {
        threads,
        layers,
        full,
        precision: model.precision,
        passes: rows,
        update,
        reference,
        buildMs: { update: train.buildMs, reference: score.buildMs },
      },
      null,
      1,
    ) + '\n',
  );
model.free();
