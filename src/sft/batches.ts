/**
 * Supervised examples as token ids, the order they are trained in, and the per-token loss coefficients.
 *
 * Loss: token-mean negative log-likelihood of the completion tokens over the whole batch (TRL SFTTrainer with
 * completion_only_loss). Every micro-batch is scaled by the token count of the *whole* batch, so accumulating
 * micro-batch gradients gives exactly the update of one large batch.
 */
import { GrpoError } from '../errors.ts';
import type { Tokenizer } from '../model/tokenizer/tokenizer.ts';
import { Rng } from '../util/rng.ts';
import { encodePrompt } from '../data/templates.ts';

export interface SftExample {
  /** prompt token ids (BOS first when the tokenizer adds one) */
  prompt: number[];
  /** completion token ids, ending with EOS; the loss covers these only */
  completion: number[];
  /**
   * per completion token: 0 on a tool's output inside the completion (`<tool_response>…</tool_response>`, which
   * an environment inserts in a rollout), read as context and not trained on, as RL episodes treat it; absent = all 1
   */
  completionMask?: number[];
}

export interface TextPair {
  prompt: string;
  completion: string;
}

const TOOL_RESPONSE = /<tool_response>[\s\S]*?<\/tool_response>/g;

/**
 * Tokenize (prompt, completion) text pairs: the prompt as encodePrompt encodes it alone (with BOS),
 * the completion without BOS and with `eosId` appended. With `maskToolResponses`, each
 * `<tool_response>…</tool_response>` in a completion is tokenized on its own (as a rollout inserts it) and masked
 * out of the loss (verl's multi-turn SFT trains on the assistant's tokens only).
 */
export function tokenizeSftPairs(
  tokenizer: Tokenizer,
  pairs: readonly TextPair[],
  eosId?: number,
  opts: { maskToolResponses?: boolean } = {},
): SftExample[] {
  const eos = eosId ?? tokenizer.eosIds[0];
  if (eos === undefined)
    throw new GrpoError(
      'tokenizer',
      'the tokenizer has no EOS token, so a completion cannot be taught to stop; pass eosId',
    );
  return pairs.map((p, i) => {
    if (typeof p.prompt !== 'string' || typeof p.completion !== 'string')
      throw new GrpoError('data', `SFT example ${i}: prompt and completion must be strings`);
    const completion: number[] = [],
      mask: number[] = [];
    const push = (text: string, m: number) => {
      for (const t of tokenizer.encode(text, { addBos: false })) {
        completion.push(t);
        mask.push(m);
      }
    };
    let at = 0;
    for (const r of opts.maskToolResponses ? p.completion.matchAll(TOOL_RESPONSE) : []) {
      push(p.completion.slice(at, r.index), 1);
      push(r[0], 0);
      at = r.index! + r[0].length;
    }
    push(p.completion.slice(at), 1);
    if (completion.length === 0) throw new GrpoError('data', `SFT example ${i} has an empty completion`);
    return {
      prompt: encodePrompt(tokenizer, p.prompt),
      completion: [...completion, eos],
      ...(mask.includes(0) ? { completionMask: [...mask, 1] } : {}),
    };
  });
}

/** Keep examples whose prompt + completion fits `maxLength` tokens; also returns how many were dropped. */
export function fitToLength(
  examples: readonly SftExample[],
  maxLength: number,
): { kept: SftExample[]; dropped: number } {
  const kept = examples.filter((e) => e.prompt.length + e.completion.length <= maxLength && e.prompt.length >= 1);
  return { kept, dropped: examples.length - kept.length };
}

export interface BatchCursor {
  epoch: number;
  /** position in the epoch's order */
  index: number;
  /** state of the shuffling Rng */
  rngState: number;
}

/**
 * Batches of whole examples in a fresh seeded shuffle each epoch. A batch that would cross an epoch boundary
 * takes the rest from the next epoch's order, so every batch has exactly `batchSize` examples.
 */
export class EpochBatcher {
  private readonly rng: Rng;
  private order: number[] = [];
  epoch = 0;
  index = 0;

  constructor(
    private readonly size: number,
    readonly batchSize: number,
    seed: number,
  ) {
    if (size < 1) throw new GrpoError('data', 'SFT needs at least one example');
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new GrpoError('config', `batch size must be a positive integer, got ${batchSize}`);
    this.rng = new Rng(seed);
    this.shuffle();
  }

  private shuffle(): void {
    this.order = Array.from({ length: this.size }, (_, i) => i);
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
    }
  }

  /** Indices of the next batch. */
  next(): number[] {
    const out: number[] = [];
    while (out.length < this.batchSize) {
      if (this.index >= this.order.length) {
        this.epoch++;
        this.index = 0;
        this.shuffle();
      }
      out.push(this.order[this.index++]);
    }
    return out;
  }

  /** Fractional epochs consumed so far (HF Trainer's `epoch` log field). */
  get epochProgress(): number {
    return this.epoch + this.index / this.size;
  }
}

/** Split a batch into consecutive micro-batches of at most `microBatchSize` examples. */
export function microBatches<T>(batch: readonly T[], microBatchSize: number): T[][] {
  if (!Number.isInteger(microBatchSize) || microBatchSize < 1)
    throw new GrpoError('config', `micro-batch size must be a positive integer, got ${microBatchSize}`);
  const out: T[][] = [];
  for (let i = 0; i < batch.length; i += microBatchSize) out.push(batch.slice(i, i + microBatchSize));
  return out;
}

/** Completion tokens the loss covers (tool responses left out). */
export function completionTokenCount(batch: readonly SftExample[]): number {
  return batch.reduce(
    (n, e) => n + (e.completionMask ? e.completionMask.reduce((a, b) => a + b, 0) : e.completion.length),
    0,
  );
}

/** The full token sequence the model reads. */
export function sequenceOf(e: SftExample): number[] {
  return [...e.prompt, ...e.completion];
}

/** The position whose next token is the completion's first: a pass computes log-probs from there (forward's logprobsFrom). */
export function completionStart(e: SftExample): number {
  return e.prompt.length - 1;
}

/** dL/dlogp per completion token for L = −(1/N) Σ completion-token log-probs, N = `totalCompletionTokens` of the whole batch. */
export function nllCoefficients(micro: readonly SftExample[], totalCompletionTokens: number): Float32Array[] {
  const g = -1 / totalCompletionTokens;
  return micro.map((e) => Float32Array.from(e.completion, (_, k) => (e.completionMask?.[k] === 0 ? 0 : g)));
}

/** The loss part of one micro-batch: −(1/N) Σ completion-token log-probs (in float64), from the completions' log-probs. */
export function nllOf(
  micro: readonly SftExample[],
  logp: readonly Float32Array[],
  totalCompletionTokens: number,
): number {
  let sum = 0;
  micro.forEach((e, i) =>
    logp[i].forEach((lp, k) => {
      if (e.completionMask?.[k] !== 0) sum += lp;
    }),
  );
  return -sum / totalCompletionTokens;
}
