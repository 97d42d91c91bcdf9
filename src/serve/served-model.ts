/**
 * The embedded model as the server uses it: prompts (token ids that already fit the context) and OpenAI
 * sampling options in, finished choices out (served-choices.ts renders them). Requests decode in one running batch
 * (ContinuousBatcher drives a SequenceDecoder from here); one batch runs at a time. LoRA adapters served beside
 * the base are served-adapters.ts's; whether a checkpoint can replace the weights, weight-update.ts's.
 */
import { ServeError } from './serve-error.ts';
import type { LoadedModel } from '../model/io/index.ts';
import type { LlamaModel } from '../model/llama-model.ts';
import { checkWeightUpdate } from './weight-update.ts';
import type { Tokenizer } from '../model/tokenizer/index.ts';
import { SequenceDecoder } from '../rollout/sequence-decoder.ts';
import type { DecodeRequest } from '../rollout/decode-request.ts';
import type { Completion } from '../rollout/completion.ts';
import { decodeAfter } from './completion-text.ts';
import type { ServedRequest } from './request-schema.ts';
import { ServedAdapters } from './served-adapters.ts';
import { renderChoices, renderRunningChoices, type ChoiceRenderer, type ServedChoice } from './served-choices.ts';

export class ServedModel {
  /** LoRA adapters served beside the base, by the name requests give as `model` */
  private readonly adapters: ServedAdapters;

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    /** the id clients send as `model` and GET /v1/models lists */
    readonly name: string,
  ) {
    this.adapters = new ServedAdapters(model, name);
  }

  /** names of the loaded adapters (the base's own one left out: it is served under the model's name) */
  get adapterNames(): string[] {
    return this.adapters.names;
  }

  /** The model a request's `model` field names: the base (or its own adapter), or a loaded adapter. */
  serves(model: string): boolean {
    return model === this.name || this.adapters.has(model);
  }

  /** Load a PEFT adapter under `name`; it is checked against the model now (a misfit throws, nothing changes). */
  loadAdapter(name: string, dir: string): void {
    this.adapters.load(name, dir);
  }

  unloadAdapter(name: string): void {
    this.adapters.unload(name);
  }

  /** positions the model attends over: prompt + completion must fit */
  get contextLength(): number {
    return this.model.config.maxSeqLen;
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get bosId(): number | undefined {
    return this.model.config.bosTokenId ?? this.tokenizer.bosId;
  }

  /**
   * Replaces the served weights in place with those of a checkpoint of the same architecture. Every config field
   * and every tensor's shape is checked before anything is written: a checkpoint that does not fit throws a
   * GrpoError with code 'weights_mismatch' naming what differs, and the served weights stay as they were.
   * Nothing holds copies of the weights — graphs (the model's cached ones, generate's per-call ones) reference
   * the weight tensors — so the next request computes with the new weights.
   */
  updateWeights(loaded: LoadedModel, source: string): { tensors: number; bytes: number } {
    checkWeightUpdate(this.model.weights, loaded, source);
    this.model.weights.load(loaded.weights);
    let tensors = 0,
      bytes = 0;
    for (const [name, t] of this.model.weights.byName) {
      if (!loaded.weights.has(name)) continue; // a value head the checkpoint lacks (zeroed by load)
      tensors++;
      bytes += t.numel * 4;
    }
    return { tensors, bytes };
  }

  /** A decoder for a batch of requests to the model `model` names (its adapter is put on the model now). */
  decoder(model: string | null, maxSequences: number): SequenceDecoder {
    const adapter = this.adapters.selectedBy(model);
    // an adapter unloaded while this request waited in the queue
    if (adapter && !this.adapters.has(adapter))
      throw new ServeError('model_not_found', `'model': the LoRA adapter '${adapter}' was unloaded`, 'model');
    if (adapter) this.adapters.activate(adapter);
    return new SequenceDecoder(this.model, { adapters: adapter !== null, maxSequences });
  }

  /** Add a request to a running batch: it samples as it would alone (its own seed), with its own settings. */
  add(decoder: SequenceDecoder, prompts: number[][], r: ServedRequest): DecodeRequest {
    return decoder.add(prompts, {
      n: r.n,
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      topK: r.topK,
      minP: r.minP,
      seed: r.seed,
      ...(r.ignoreEos ? { eosTokenIds: [] } : {}),
      stop: r.stop,
      // the prompt's last token primes the decoder (SentencePiece writes no space after BOS)
      decode: (ids, p) => decodeAfter(this.tokenizer, prompts[p][prompts[p].length - 1], ids),
    });
  }

  /** A finished request's choices. */
  choices(
    prompts: number[][],
    completions: readonly Completion[],
    r: ServedRequest,
    model: string | null,
  ): ServedChoice[] {
    return renderChoices(this.renderer(model), prompts, completions, r);
  }

  /** A running request's unfinished choices, each with how many of its pieces are final (what a stream may send). */
  runningChoices(
    prompts: number[][],
    completions: readonly Completion[],
    r: ServedRequest,
    model: string | null,
  ): { choice: ServedChoice; final: number }[] {
    return renderRunningChoices(this.renderer(model), prompts, completions, r);
  }

  private renderer(model: string | null): ChoiceRenderer {
    return { model: this.model, tokenizer: this.tokenizer, adapters: this.adapters.selectedBy(model) !== null };
  }
}
