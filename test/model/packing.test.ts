/**
 * Packed batches (src/model/packing.ts): the layout computes a shared prefix once and lets every token see exactly its
 * own sequence's earlier tokens; through the model, packed passes give the log-probs, entropies, values and gradients
 * of the unpacked computation (each sequence whole) and of the float64 reference, for Llama, Qwen2 and Qwen3, full
 * and LoRA, f32 and bf16.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packSequences, type PackedBatch } from '../../src/model/packing.ts';
import { LlamaModel, type ModelOptions } from '../../src/model/llama-model.ts';
import type { LlamaConfig } from '../../src/model/config.ts';
import { referenceLogits, logSoftmax } from './reference-llama.ts';
import { tinyConfigs, randomizeWeights } from './tiny-configs.ts';
import { assertGradientMatchesFd } from './fd-check.ts';
import { Rng } from '../../src/util/rng.ts';

/** `groups` prompts, each with ragged completions; prompts of one batch share a "system prompt" and some completions repeat. */
function groupedSequences(
  rng: Rng,
  vocab: number,
  groups = 3,
  perGroup = 4,
): { seqs: number[][]; promptLengths: number[] } {
  const system = Array.from({ length: 5 }, () => rng.int(vocab));
  const seqs: number[][] = [],
    promptLengths: number[] = [];
  for (let g = 0; g < groups; g++) {
    const prompt = [...system, ...Array.from({ length: 3 + rng.int(6) }, () => rng.int(vocab))];
    for (let k = 0; k < perGroup; k++) {
      const completion =
        k === perGroup - 1 && seqs.length
          ? seqs[seqs.length - 1].slice(prompt.length)
          : Array.from({ length: 1 + rng.int(9) }, () => rng.int(vocab));
      seqs.push([...prompt, ...completion]);
      promptLengths.push(prompt.length);
    }
  }
  return { seqs, promptLengths };
}

/** Which flat tokens query slot `slot` may see (from the key index and the family's mask). */
function visibleKeys(p: PackedBatch, slot: number): number[] {
  let q0 = 0,
    k0 = 0;
  for (const [fi, f] of p.families.entries()) {
    const n = f.rows * f.queries;
    if (slot < q0 + n) {
      const r = Math.floor((slot - q0) / f.queries),
        c = (slot - q0) % f.queries;
      const out: number[] = [];
      for (let k = 0; k < f.keys; k++)
        if (p.masks[fi][(r * f.queries + c) * f.keys + k] === 0) out.push(p.keyIndex[k0 + r * f.keys + k]);
      return out;
    }
    q0 += n;
    k0 += f.rows * f.keys;
  }
  throw new Error(`slot ${slot} is past every family`);
}

test("a group's prompt is packed once; each completion continues from the prompt's end", () => {
  const prompt = [7, 3, 9, 9, 2];
  const seqs = [
    [...prompt, 1, 4, 4],
    [...prompt, 5, 1],
    [...prompt, 1, 4, 4],
    [...prompt, 1, 8],
  ];
  const every = packSequences(seqs, { tokens: 'every' });
  // the prompt once, then 1 4 4 (shared by two identical completions, whose first token 1 is also shared with 1 8), 5 1, 8
  assert.equal(every.realTokens, 5 + 3 + 2 + 1);
  assert.equal(every.tokens.length % 32, 0);
  seqs.forEach((s, i) =>
    s.forEach((tok, t) => {
      assert.equal(every.tokens[every.nodesOf[i][t]], tok);
      assert.equal(every.positions[every.nodesOf[i][t]], t);
    }),
  );
  // scoring reads every token but the last of each sequence: 1 4, 5 and 1 after the prompt
  const p = packSequences(seqs);
  assert.equal(p.realTokens, 5 + 2 + 1);
  assert.deepEqual(
    p.nodesOf.map((n) => n.length),
    seqs.map((s) => s.length - 1),
  );
  assert.deepEqual(p.nodesOf[0], p.nodesOf[2], 'identical sequences are one path');
  assert.equal(new Set(seqs.map((_, i) => p.nodesOf[i][4])).size, 1, "the prompt's last token is one node");
  // items: scored (node, next token) pairs; the prompt's last token is scored once per distinct first completion token
  assert.equal(p.realItems, 4 + 2 + 2 + 1 + 1);
  assert.equal(
    packSequences(seqs, { share: false }).realTokens,
    seqs.reduce((n, s) => n + s.length - 1, 0),
  );
});

test("every token sees exactly its own sequence's earlier tokens, never a sibling's, at every block size", () => {
  const rng = new Rng(3);
  for (const blockSize of [1, 3, 4, 64])
    for (const share of [true, false]) {
      const { seqs } = groupedSequences(rng, 11, 3, 4);
      seqs.push(seqs[0].slice(0, 6)); // a sequence that is a prefix of another
      const p = packSequences(seqs, { blockSize, share, tokens: 'every' });
      seqs.forEach((s, i) =>
        s.forEach((_, t) => {
          const q = p.nodesOf[i][t];
          const seen = visibleKeys(p, p.outIndex[q]).sort((a, b) => a - b);
          const own = [...new Set(p.nodesOf[i].slice(0, t + 1))].sort((a, b) => a - b);
          assert.deepEqual(seen, own, `block ${blockSize}, share ${share}: sequence ${i} position ${t}`);
        }),
      );
      for (const f of p.families) assert.ok(f.queries <= blockSize);
    }
});

test('attention memory is bounded by the block size: a long pack never computes a [T × T] square', () => {
  const long = Array.from({ length: 1000 }, (_, t) => (t * 7) % 50);
  const p = packSequences([long, [...long.slice(0, 900), 1, 2, 3]], { blockSize: 64 });
  const slots = p.families.reduce((n, f) => n + f.rows * f.queries * f.keys, 0);
  assert.equal(
    p.realTokens,
    999 + 2,
    'the shared 900, the rest of the long one, two more (last tokens are only targets)',
  );
  assert.ok(slots < 0.65 * 1001 * 1001, `${slots} score slots for 1001 tokens`);
  for (const f of p.families) assert.ok(f.queries <= 64 && f.keys <= 1008);
});

test('logprobsFrom scores only the completions: the prompt positions get no item', () => {
  const seqs = [
    [1, 2, 3, 4, 5],
    [1, 2, 3, 6],
    [1, 2, 3, 6, 7, 8],
  ];
  const p = packSequences(seqs, { logprobsFrom: [2, 2, 2] });
  assert.deepEqual(
    p.itemsOf.map((r) => r.length),
    [2, 1, 3],
  );
  // 3→4 and 3→6 from the prompt's last token, 4→5, 6→7, 7→8; the second and third share 3→6
  assert.equal(p.realItems, 5);
  assert.equal(p.itemsOf[1][0], p.itemsOf[2][0]);
  assert.throws(() => packSequences(seqs, { logprobsFrom: [5, 0, 0] }), /scoring from position 5/);
});

interface PassResult {
  logp: Float32Array[];
  entropy: Float32Array[];
  values: Float32Array[];
  grads: Map<string, Float32Array>;
}

/** One training pass with fixed coefficients on a model of `config`, random weights (seed 31). */
function trainPass(config: LlamaConfig, seqs: number[][], opts: ModelOptions, coefSeed = 9): PassResult {
  const model = new LlamaModel(config, { threads: 1, valueHead: true, seed: 4, ...opts });
  try {
    if (!opts.lora) model.weights.load(randomizeWeights(model.weights.save(), 31));
    else for (const t of model.lora!.parameters) t.write(new Rng(t.numel).normalArray(t.numel, 0.2));
    const opt = model.createOptimizer();
    const pass = model.forward(seqs, { grad: true, entropy: true });
    const rng = new Rng(coefSeed);
    const coef = () => pass.logp.map((r) => Array.from(r, () => rng.normal()));
    pass.backward({ logp: coef(), values: coef(), entropy: coef() });
    const grads = new Map(opt.params.map((t) => [t.name, opt.gradOf(t).readF32()]));
    return { logp: pass.logp, entropy: pass.entropy!, values: pass.values!, grads };
  } finally {
    model.free();
  }
}

function assertClose(a: PassResult, b: PassResult, relTol: number, what: string): void {
  for (const key of ['logp', 'entropy', 'values'] as const) {
    a[key].forEach((row, i) =>
      row.forEach((x, t) =>
        assert.ok(
          Math.abs(x - b[key][i][t]) <= relTol * (1 + Math.abs(x)),
          `${what}: ${key}[${i}][${t}] ${x} vs ${b[key][i][t]}`,
        ),
      ),
    );
  }
  assert.deepEqual([...a.grads.keys()], [...b.grads.keys()]);
  for (const [name, g] of a.grads) {
    const h = b.grads.get(name)!;
    const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    const diff = Math.sqrt(g.reduce((s, x, i) => s + (x - h[i]) ** 2, 0));
    assert.ok(diff <= relTol * (norm + 1e-6), `${what}: gradient of ${name} differs by ${diff} (norm ${norm})`);
  }
}

for (const [label, config] of Object.entries(tinyConfigs)) {
  test(`packed passes equal the unpacked ones and the float64 reference: ${label}`, () => {
    const { seqs } = groupedSequences(new Rng(8), config.vocabSize);
    const packed = trainPass(config, seqs, { attentionBlock: 4 }),
      unpacked = trainPass(config, seqs, { packing: false });
    assertClose(packed, unpacked, 2e-5, 'full f32');
    // the reference: the log-probs of each whole sequence in float64
    const model = new LlamaModel(config, { threads: 1, seed: 4 });
    const w = randomizeWeights(model.weights.save(), 31);
    model.free();
    let worst = 0;
    seqs.forEach((s, i) =>
      referenceLogits(config, w, s)
        .slice(0, -1)
        .forEach((row, t) => {
          worst = Math.max(worst, Math.abs(logSoftmax(row)[s[t + 1]] - packed.logp[i][t]));
        }),
    );
    assert.ok(worst < 1e-4, `packed log-probs differ from the reference by ${worst}`);
  });

  test(`packed LoRA gradients equal the unpacked ones: ${label}`, () => {
    const { seqs } = groupedSequences(new Rng(12), config.vocabSize);
    // an f32 base: with a bf16 base the products round activations to bf16, so a shared prompt's summed gradient and
    // the unpacked copies' separate ones round differently (the bf16 test below bounds that)
    const lora = { lora: { r: 4 }, basePrecision: 'f32' as const };
    assertClose(
      trainPass(config, seqs, { ...lora, attentionBlock: 4 }),
      trainPass(config, seqs, { ...lora, packing: false }),
      2e-5,
      'LoRA f32',
    );
  });
}

test('bf16 packed passes equal the unpacked ones within bf16 rounding (full and LoRA on a bf16 base)', () => {
  const config = tinyConfigs['llama (GQA, tied)'];
  const { seqs } = groupedSequences(new Rng(14), config.vocabSize);
  assertClose(
    trainPass(config, seqs, { precision: 'bf16', attentionBlock: 4 }),
    trainPass(config, seqs, { precision: 'bf16', packing: false }),
    3e-2,
    'full bf16',
  );
  const lora = { precision: 'bf16' as const, lora: { r: 4 } };
  assertClose(
    trainPass(config, seqs, { ...lora, attentionBlock: 4 }),
    trainPass(config, seqs, { ...lora, packing: false }),
    3e-2,
    'LoRA bf16',
  );
});

test('gradients through shared prompts match finite differences', () => {
  const config = tinyConfigs['qwen3 (q/k norm, GQA 4:1)'];
  const model = new LlamaModel(config, { threads: 1, valueHead: true, attentionBlock: 3 });
  try {
    const opt = model.createOptimizer();
    const rng = new Rng(21);
    const w0 = randomizeWeights(model.weights.save(), 23);
    model.weights.load(w0);
    const { seqs, promptLengths } = groupedSequences(rng, config.vocabSize, 2, 3);
    const logprobsFrom = promptLengths.map((n) => n - 1);
    const coef = seqs.map((s, i) => Array.from({ length: s.length - logprobsFrom[i] - 1 }, () => rng.normal()));
    const objective = (): number => {
      const p = model.forward(seqs, { logprobsFrom, entropy: true });
      return p.logp.reduce(
        (L, row, i) =>
          row.reduce((a, lp, t) => a + coef[i][t] * (lp + 0.5 * p.entropy![i][t] + 0.3 * p.values![i][t]), L),
        0,
      );
    };
    model.forward(seqs, { grad: true, entropy: true, logprobsFrom }).backward({
      logp: coef,
      entropy: coef.map((r) => r.map((c) => 0.5 * c)),
      values: coef.map((r) => r.map((c) => 0.3 * c)),
    });
    const names = [...model.weights.byName.keys()];
    const grads = new Map(names.map((n) => [n, opt.gradOf(model.weights.byName.get(n)!).readF32()]));
    assertGradientMatchesFd({
      names,
      start: w0,
      grads,
      load: (w) => model.weights.load(w),
      objective,
      rng,
      label: 'packed',
    });
  } finally {
    model.free();
  }
});

test("scoring from the prompt's end gives the tail of the full rows, and the same gradients", () => {
  const config = tinyConfigs['qwen2 (bias, MHA)'];
  const { seqs, promptLengths } = groupedSequences(new Rng(30), config.vocabSize);
  const logprobsFrom = promptLengths.map((n) => n - 1);
  const run = (from: boolean) => {
    const model = new LlamaModel(config, { threads: 1, seed: 4 });
    try {
      model.weights.load(randomizeWeights(model.weights.save(), 31));
      const opt = model.createOptimizer();
      const pass = model.forward(seqs, { grad: true, logprobsFrom: from ? logprobsFrom : undefined });
      const c = seqs.map((s, i) =>
        Array.from({ length: s.length - 1 }, (_, t) => (t >= logprobsFrom[i] ? Math.sin(t + i) : 0)),
      );
      pass.backward({ logp: from ? c.map((r, i) => r.slice(logprobsFrom[i])) : c });
      return { logp: pass.logp, grads: opt.params.map((p) => opt.gradOf(p).readF32()) };
    } finally {
      model.free();
    }
  };
  const full = run(false),
    tail = run(true);
  tail.logp.forEach((row, i) => assert.deepEqual(Array.from(row), Array.from(full.logp[i].subarray(logprobsFrom[i]))));
  full.grads.forEach((g, k) =>
    g.forEach((x, j) => assert.ok(Math.abs(x - tail.grads[k][j]) <= 1e-5 * (1 + Math.abs(x)))),
  );
});
