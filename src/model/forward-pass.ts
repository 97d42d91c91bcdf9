/**
 * One pass of LlamaModel.forward over a packed batch: what a caller asks of it (ForwardOptions), the per-sequence
 * rows it returns, and the backward of the same graph with the algorithm's coefficients (DESIGN.md's seam).
 */
import type { Tensor } from '../engine/tensor.ts';
import type { BatchGraph, EntropyMode, GraphKind } from './batch-graph.ts';
import type { PackedBatch } from './packing.ts';
import { GrpoError } from '../errors.ts';

export interface ForwardOptions {
  /**
   * build the backward part so pass.backward() can run: true trains every parameter the optimizer holds;
   * 'value_head' the value head alone — the trunk runs as in scoring (no LoRA dropout) and the backward is one
   * product with the final hidden state (a PPO critic pass that leaves the policy as it is)
   */
  grad?: boolean | 'value_head';
  /** with LoRA: false scores the base alone (the reference policy of KL, as TRL does with PEFT). Default true */
  adapters?: boolean;
  /** also compute per-token entropy */
  entropy?: boolean;
  /**
   * with grad and entropy: build the entropy's backward, so backward() takes entropy coefficients (default true). An
   * entropy that is only logged skips it: a few passes over [vocabulary × tokens] per pass
   */
  entropyGrad?: boolean;
  /** score under softmax(logits / temperature), the sampling distribution (default 1) */
  temperature?: number;
  /**
   * per sequence, the first position t whose next token is scored (default 0): a completion's log-probs alone
   * (promptLength − 1), so the vocabulary-sized head never runs over the prompt
   */
  logprobsFrom?: ArrayLike<number>;
}

export interface Coefficients {
  /** dL/dlogp per scored token, same ragged shape as pass.logp (absent: 0) */
  logp?: ArrayLike<number>[];
  /** dL/dV per token (value head only) */
  values?: ArrayLike<number>[];
  /** dL/dH per token (needs forward with entropy: true) */
  entropy?: ArrayLike<number>[];
}

export interface ForwardPass {
  /** per sequence i: logp[i][t] = log p(x_i[f+t+1] | x_i[0..f+t]) with f = logprobsFrom[i] (default 0), length len_i − 1 − f */
  logp: Float32Array[];
  entropy?: Float32Array[];
  values?: Float32Array[];
  /** backpropagate Σ g·logp + Σ h·V + Σ e·H into the optimizer's gradient accumulators */
  backward(coef: Coefficients): void;
}

/** What a forward request builds: the graph's kind, entropy and temperature, and whether adapters apply. */
export interface ForwardRequest {
  kind: GraphKind;
  entropy: EntropyMode;
  temperature: number;
  adapters: boolean;
}

/** Check a forward request (sequences of at least 2 tokens, one logprobsFrom each, a positive temperature). */
export function forwardRequest(sequences: ArrayLike<number>[], opts: ForwardOptions): ForwardRequest {
  if (sequences.length === 0) throw new GrpoError('shape', 'forward needs at least one sequence');
  sequences.forEach((s, i) => {
    if (s.length < 2)
      throw new GrpoError(
        'shape',
        `sequence ${i} has ${s.length} tokens; scoring needs at least 2 (a context and a target)`,
      );
  });
  if (opts.logprobsFrom && opts.logprobsFrom.length !== sequences.length)
    throw new GrpoError(
      'shape',
      `logprobsFrom has ${opts.logprobsFrom.length} entries for ${sequences.length} sequences`,
    );
  const kind: GraphKind = opts.grad === 'value_head' ? 'value' : opts.grad ? 'train' : 'score';
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new GrpoError('config', `scoring temperature must be > 0, got ${temperature}`);
  const adapters = opts.adapters ?? true;
  if (!adapters && kind !== 'score')
    throw new GrpoError(
      'config',
      'forward({ grad: true, adapters: false }): the base is frozen; train with the adapters on',
    );
  const entropy: EntropyMode = !opts.entropy
    ? 'none'
    : kind === 'train' && opts.entropyGrad !== false
      ? 'grad'
      : 'value';
  return { kind, entropy, temperature, adapters };
}

/** The model's checks a pass's backward runs first. */
export interface PassChecks {
  /** throws when the model was freed */
  assertAlive(): void;
  /** the pass's graph is still the one its model caches for this batch shape */
  isCurrent(): boolean;
}

/**
 * The pass of graph `g` just computed forward over `packed`: its outputs per sequence, and its backward, which
 * refuses to run once another forward has used the graph.
 */
export function forwardPass(g: BatchGraph, packed: PackedBatch, checks: PassChecks): ForwardPass {
  const generation = ++g.generation;
  const unpack = (t?: Tensor) => {
    if (!t) return undefined;
    const all = t.readF32();
    return packed.itemsOf.map((items) => Float32Array.from(items, (i) => all[i]));
  };
  return {
    logp: unpack(g.logp)!,
    entropy: unpack(g.entropy),
    values: unpack(g.values),
    backward: (coef: Coefficients) => {
      checks.assertAlive();
      if (g.kind === 'score') throw new GrpoError('engine', 'backward() needs forward(..., { grad: true })');
      if (g.generation !== generation || !checks.isCurrent()) {
        throw new GrpoError(
          'engine',
          'backward() of a stale pass: another forward ran on the same batch shape in between',
        );
      }
      if (coef.values && !g.values)
        throw new GrpoError(
          'config',
          'value coefficients given but the model has no value head (create it with valueHead: true)',
        );
      if (coef.entropy && !g.coefEntropy)
        throw new GrpoError(
          'config',
          'entropy coefficients given but forward ran without { entropy: true } (or with entropyGrad: false)',
        );
      const items = (what: string, rows?: ArrayLike<number>[]) =>
        rows ? itemCoefficients(what, rows, packed) : new Float32Array(g.M);
      // a coefficient input exists only where something trainable lies under its output
      g.coefLogp?.write(items('logp', coef.logp));
      g.coefValue?.write(items('values', coef.values));
      g.coefEntropy?.write(items('entropy', coef.entropy));
      g.graph.computeBackward();
    },
  };
}

/** Per-position coefficients of each sequence, summed per item: a shared item's gradient is the sum of its uses. */
function itemCoefficients(what: string, coef: ArrayLike<number>[], p: PackedBatch): Float32Array {
  if (coef.length !== p.itemsOf.length)
    throw new GrpoError('shape', `${what} coefficients for ${coef.length} sequences, the pass has ${p.itemsOf.length}`);
  const out = new Float32Array(p.itemNode.length);
  coef.forEach((c, b) => {
    const items = p.itemsOf[b];
    if (c.length !== items.length)
      throw new GrpoError(
        'shape',
        `${what} coefficients of sequence ${b}: ${c.length} values for ${items.length} scored tokens`,
      );
    for (let t = 0; t < c.length; t++) {
      if (!Number.isFinite(c[t]))
        throw new GrpoError('numeric', `${what} coefficient of sequence ${b} token ${t} is ${c[t]}`);
      out[items[t]] += c[t];
    }
  });
  return out;
}
