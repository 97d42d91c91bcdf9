/**
 * Batched generation on the embedded model with a KV cache: all prompts × n samples decode together, one token
 * per step (sequence-decoder.ts; the server adds requests to a running batch with the same decoder).
 */
import type { LlamaModel } from '../model/llama-model.ts';
import { SequenceDecoder, type DecoderOptions } from './sequence-decoder.ts';
import type { SequenceRequest } from './decode-request.ts';
import type { Completion } from './completion.ts';
import { GrpoError } from '../errors.ts';

export interface GenerateOptions
  extends Omit<SequenceRequest, 'firstPromptIndex'>,
    Omit<DecoderOptions, 'maxSequences'> {
  /**
   * consecutive runs of prompts that each draw from their own RNG (default: one, seeded with `seed`, for all):
   * requests batched together sample as they would alone (in f32 bit for bit: ../model/batch-invariance.ts)
   */
  seedGroups?: { seed: number; prompts: number }[];
  /** called after every decoding step with the number of tokens generated so far */
  onStep?: (generated: number) => void;
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
export function* decodeSteps(
  model: LlamaModel,
  prompts: number[][],
  opts: GenerateOptions,
): Generator<readonly Completion[], Completion[], void> {
  if (prompts.length === 0) throw new GrpoError('config', 'generate needs at least one prompt');
  const groups = opts.seedGroups ?? [{ seed: opts.seed ?? 0, prompts: prompts.length }];
  if (groups.reduce((a, g) => a + g.prompts, 0) !== prompts.length)
    throw new GrpoError(
      'config',
      `seedGroups cover ${groups.reduce((a, g) => a + g.prompts, 0)} prompts, not the ${prompts.length} given`,
    );
  const decoder = new SequenceDecoder(model, {
    precision: opts.precision,
    adapters: opts.adapters,
    spanBucket: opts.spanBucket,
  });
  try {
    let at = 0;
    const requests = groups.map((g) => {
      const r = decoder.add(prompts.slice(at, at + g.prompts), { ...opts, seed: g.seed, firstPromptIndex: at });
      at += g.prompts;
      return r;
    });
    const out = requests.flatMap((r) => r.completions);
    for (let k = 0; !decoder.idle; k++) {
      decoder.step();
      if (k > 0) opts.onStep?.(Math.max(...out.map((c) => c.tokens.length)));
      if (!decoder.idle) yield out;
    }
    return out;
  } finally {
    decoder.free();
  }
}
