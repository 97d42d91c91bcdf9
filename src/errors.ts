/**
 * Every error grpo-ts throws on purpose is a GrpoError: one message that names what is wrong and how to fix it.
 * `code` is a stable machine-readable tag so callers can branch without parsing text.
 */

/** grpo serve's answers to a request it cannot serve, each with its HTTP status (serve/serve-error.ts) */
export type ServeErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'model_not_found'
  | 'not_found'
  | 'method_not_allowed'
  | 'forbidden'
  | 'request_timeout'
  | 'payload_too_large'
  | 'unavailable';

/** What kind of thing went wrong. */
export type GrpoErrorCode =
  | ServeErrorCode
  /** a config value, option or combination that cannot run; the message names the key */
  | 'config'
  /** ggml or the device: a graph, a buffer, a backend */
  | 'engine'
  /** tensors, batches or arrays of the wrong size */
  | 'shape'
  /** a number that cannot be used (NaN, out of range) */
  | 'value'
  /** a loss or gradient that is not finite, step after step */
  | 'numeric'
  /** a dtype the operation does not take */
  | 'dtype'
  /** the machine's memory cannot hold the run */
  | 'memory'
  /** datasets and prompts: unreadable rows, missing fields */
  | 'data'
  /** files: missing, unreadable, unwritable */
  | 'io'
  /** model weights that do not fit the model */
  | 'weights'
  /** served weights that a checkpoint cannot replace (grpo serve) */
  | 'weights_mismatch'
  /** a checkpoint that cannot be read or resumed from */
  | 'checkpoint'
  /** LoRA adapters: unreadable or unfit */
  | 'adapter'
  /** an adapter the server does not hold */
  | 'adapter_not_found'
  | 'tokenizer'
  /** prompt templates and chat templates */
  | 'template'
  /** reward functions and their specs */
  | 'reward'
  /** evaluation metrics */
  | 'metric'
  /** decoding */
  | 'generation'
  /** OpenAI-compatible servers: the HTTP exchange, and what they answer */
  | 'http'
  /** a server that did not answer in time, or answered 408/429/5xx, through every retry (another may) */
  | 'unreachable'
  | 'protocol'
  /** GEPA's optimisation */
  | 'gepa'
  /** work stopped on a signal */
  | 'interrupted';

export class GrpoError extends Error {
  readonly code: GrpoErrorCode;
  constructor(code: GrpoErrorCode, message: string) {
    super(message);
    this.name = 'GrpoError';
    this.code = code;
  }
}
