/**
 * Batched generation on the embedded model with a KV cache.
 *
 * All prompts × n samples decode together as cache slots. Prompts are left-padded to a common length and
 * prefilled once each (one slot per prompt); the n samples of a prompt then share that prefill by copying
 * its cache slot. Each step decodes one token for every slot with a graph reused across steps (the attention
 * span grows in buckets of `spanBucket` positions; unused positions are masked).
 */
import { KvCache } from '../model/kv-cache.ts';
import { DecodeGraph, copySlots } from '../model/decode-graph.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { checkPrecision, type PrecisionSetting } from '../model/weight-copies.ts';
import { sampleToken, validateSampling, type SamplingParams } from './sampling.ts';
import { Rng } from '../util/rng.ts';
import { GrpoError } from '../errors.ts';

export interface GenerateOptions extends SamplingParams {
  /** samples per prompt (default 1) */
  n?: number;
  maxTokens: number;
  /** seed of the sampling RNG (default 0) */
  seed?: number;
  /** end-of-sequence ids (default: the model config's) — the id is kept as the last completion token */
  eosTokenIds?: number[];
  /** stop strings: generation ends once the decoded completion contains one (needs `decode`) */
  stop?: string[];
  /** token ids (of prompt `promptIndex`'s completion) → text, for stop strings */
  decode?: (ids: number[], promptIndex: number) => string;
  /**
   * consecutive runs of prompts that each draw from their own RNG (default: one, seeded with `seed`, for all):
   * requests batched together sample exactly as they would alone
   */
  seedGroups?: { seed: number; prompts: number }[];
  /** attention span bucket, in positions (default 64) */
  spanBucket?: number;
  /**
   * matmul precision (default: the model's). 'bf16' multiplies with BF16 copies of the weights (about 1.8× faster
   * matmuls on CPUs with AVX-512 BF16); the log-probs are then those of the BF16 model, close to the f32 policy's
   */
  precision?: PrecisionSetting;
  /** with LoRA: false samples from the base alone (default true) */
  adapters?: boolean;
  /** called after every decoding step with the number of tokens generated so far */
  onStep?: (generated: number) => void;
}

export interface Completion {
  promptIndex: number;
  sampleIndex: number;
  tokens: number[];
  /** per token: log softmax(logits / T) (T = 1 when greedy) — the policy the trainer recomputes */
  logprobs: number[];
  /** per token: log-probability under the truncated (top-k / top-p / min-p) distribution actually sampled */
  samplingLogprobs: number[];
  finishReason: 'stop' | 'length';
  /** decoded completion (cut before the stop string) when `decode` is given */
  text?: string;
}

export function generate(model: LlamaModel, prompts: number[][], opts: GenerateOptions): Completion[] {
  const steps = decodeSteps(model, prompts, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * generate(), one decoding step per `next()`: each yields the completions so far (their tokens grow; a finished
 * one has its stop reason or maxTokens tokens) and the return value is generate()'s. Stopping early (`return()`)
 * frees the KV cache. A server drives it between event-loop turns, streaming tokens as they come.
 */
export function* decodeSteps(model: LlamaModel, prompts: number[][], opts: GenerateOptions): Generator<readonly Completion[], Completion[], void> {
  validateSampling(opts);
  const n = opts.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new GrpoError('config', `n must be a positive integer, got ${n}`);
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) throw new GrpoError('config', `maxTokens must be a positive integer, got ${opts.maxTokens}`);
  if (prompts.length === 0) throw new GrpoError('config', 'generate needs at least one prompt');
  prompts.forEach((p, i) => { if (p.length === 0) throw new GrpoError('config', `prompt ${i} is empty: start it with the BOS token or any text`); });
  if (opts.precision !== undefined) checkPrecision(opts.precision);
  if (opts.stop?.length && !opts.decode) throw new GrpoError('config', 'stop strings need a decode function (pass the tokenizer\'s decode)');
  const eos = new Set(opts.eosTokenIds ?? model.config.eosTokenIds ?? []);
  const P = Math.max(...prompts.map((p) => p.length));
  const context = P + opts.maxTokens;
  // positions past the trained context decode garbage without a sign of it: refuse, as vLLM does
  if (context > model.config.maxSeqLen) {
    throw new GrpoError('config', `a prompt of ${P} tokens and up to ${opts.maxTokens} new ones need ${context} positions, more than this model's context of ${model.config.maxSeqLen}: shorten the prompt or lower the max tokens`);
  }
  const bucket = opts.spanBucket ?? 64;
  const slots = prompts.length * n;
  const groups = opts.seedGroups ?? [{ seed: opts.seed ?? 0, prompts: prompts.length }];
  if (groups.reduce((a, g) => a + g.prompts, 0) !== prompts.length) throw new GrpoError('config', `seedGroups cover ${groups.reduce((a, g) => a + g.prompts, 0)} prompts, not the ${prompts.length} given`);
  const rngOfPrompt = groups.flatMap((g) => { const rng = new Rng(g.seed); return new Array<Rng>(g.prompts).fill(rng); });

  // Small decoding steps run faster on one thread: below ~32 MFLOP of weight matmuls per step, ggml's per-op
  // thread barriers cost more than the split saves (measured on 2 cores: stories260K at batch 16 decodes
  // 12.7k tokens/s on one thread, 3.3k on two; a 50M model at batch 1 gains from two).
  const threads = model.backend.threadCount;
  if (2 * model.weights.parameterCount * slots < 32e6) model.backend.setThreads(1);
  const copies = model.weightCopies(opts.precision ?? model.precision);
  const lora = opts.adapters === false ? null : model.lora;
  const cache = new KvCache(model.config, model.backend, slots, context);
  let prefill: DecodeGraph | null = null;
  let step: DecodeGraph | null = null;
  try {
    // prefill: one slot per prompt (slot i·n), left-padded to P
    const pad = prompts.map((p) => P - p.length);
    prefill = new DecodeGraph(model.backend, model.weights, cache, { nNew: P, span: P, slots: prompts.length, slotStride: n }, copies, lora);
    prefill.write(Int32Array.from(prompts.flatMap((p, i) => [...new Array(pad[i]).fill(p[0]), ...p])), pad, 0);
    const first = prefill.compute();
    copySlots(model.backend, cache, prompts.map((_, i) => [i * n, Array.from({ length: n - 1 }, (_, k) => i * n + k + 1)]), P);

    const V = model.config.vocabSize;
    const out: Completion[] = Array.from({ length: slots }, (_, s) => ({
      promptIndex: Math.floor(s / n), sampleIndex: s % n, tokens: [], logprobs: [], samplingLogprobs: [], finishReason: 'length' as const,
    }));
    const done = new Array<boolean>(slots).fill(false);
    const slotPad = out.map((c) => pad[c.promptIndex]);
    const accept = (s: number, row: Float32Array) => {
      const t = sampleToken(row, opts, rngOfPrompt[Math.floor(s / n)]);
      const c = out[s];
      c.tokens.push(t.token);
      c.logprobs.push(t.logprob);
      c.samplingLogprobs.push(t.samplingLogprob);
      if (eos.has(t.token)) { c.finishReason = 'stop'; done[s] = true; return; }
      if (opts.stop?.length) {
        const text = opts.decode!(c.tokens, c.promptIndex);
        if (opts.stop.some((x) => text.includes(x))) { c.finishReason = 'stop'; done[s] = true; }
      }
      if (!done[s] && c.tokens.length >= opts.maxTokens) done[s] = true;
    };
    for (let s = 0; s < slots; s++) accept(s, first.subarray(out[s].promptIndex * V, (out[s].promptIndex + 1) * V));
    yield out;

    prefill.free();
    prefill = null;
    for (let k = 1; k < opts.maxTokens && done.some((d) => !d); k++) {
      const pos = P + k - 1; // cache index of the token being fed
      const span = Math.min(context, Math.ceil((pos + 1) / bucket) * bucket);
      if (!step || step.shape.span !== span) {
        step?.free();
        step = new DecodeGraph(model.backend, model.weights, cache, { nNew: 1, span, slots, slotStride: 1 }, copies, lora);
      }
      // finished slots keep decoding their last token; their outputs are ignored
      step.write(Int32Array.from(out, (c) => c.tokens[c.tokens.length - 1]), slotPad, pos);
      const logits = step.compute();
      for (let s = 0; s < slots; s++) if (!done[s]) accept(s, logits.subarray(s * V, (s + 1) * V));
      opts.onStep?.(k + 1);
      yield out;
    }
    if (opts.decode) {
      for (const c of out) {
        let text = opts.decode(c.tokens.filter((t) => !eos.has(t)), c.promptIndex);
        for (const x of opts.stop ?? []) { const at = text.indexOf(x); if (at >= 0) text = text.slice(0, at); }
        c.text = text;
      }
    }
    return out;
  } finally {
    prefill?.free();
    step?.free();
    cache.free();
    model.backend.setThreads(threads);
  }
}
