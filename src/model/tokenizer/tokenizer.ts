/**
 * The one tokenizer interface the rest of grpo-ts uses, whatever the file format (HF tokenizer.json,
 * llama2.c tokenizer.bin, a GGUF vocabulary).
 */

export interface ChatMessage {
  role: string;
  content: string;
  /** extra fields some templates read (reasoning_content, tool_calls, name ...) */
  [key: string]: unknown;
}

export interface EncodeOptions {
  /**
   * Prepend the BOS token. Defaults to what the tokenizer does on its own (`add_bos_token` of Llama-style HF
   * tokenizers, always for llama2.c, never for Qwen). Pass false when encoding a rendered chat template
   * whose text already contains the BOS marker.
   */
  addBos?: boolean;
}

/** Decoding is lossless: no clean-up of spaces, so decode(ids) equals the text streamed token by token. */
export interface DecodeOptions {
  /** Drop special (control) tokens such as BOS/EOS/<|im_end|> from the text. Default true, as vLLM does. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** End with the header of an assistant turn so the model continues as the assistant. Default false. */
  addGenerationPrompt?: boolean;
  /** tool schemas, passed to the template as `tools` */
  tools?: unknown[];
  /** more template variables, e.g. `{ enable_thinking: false }` for Qwen3 */
  extra?: Record<string, unknown>;
}

export interface Tokenizer {
  /** where it came from: 'hf' (tokenizer.json), 'llama2c' (tokenizer .bin), 'gguf' */
  readonly kind: 'hf' | 'llama2c' | 'gguf';
  /** number of token ids (max id + 1); the model's embedding may be larger (padded) */
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  /** ids that end a generation (eos, end-of-turn ...) */
  readonly eosIds: readonly number[];
  readonly padId: number | undefined;
  /** special (control) tokens: text -> id */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** the chat template source, if the tokenizer has one */
  readonly chatTemplate: string | undefined;

  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /**
   * The raw bytes a token stands for (byte-level and byte-fallback tokens may be part of a UTF-8 character).
   * `prevId` lets SentencePiece-style tokenizers drop the space of the first piece after BOS, as llama2.c does.
   */
  tokenBytes(id: number, prevId?: number): Uint8Array;
  /** tokenBytes as text (lossy for partial UTF-8; use StreamDecoder to stream text) */
  decodeToken(id: number, prevId?: number): string;
  /** the vocabulary string of a token (e.g. 'Ġthe', '▁the', '<0x0A>') */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
  /** Render messages with the chat template; throws a GrpoError if the tokenizer has none. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}

const utf8 = new TextDecoder('utf-8');

/** UTF-8 decoding of token bytes, shared by the implementations. */
export function utf8Text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Incremental detokenizer for streaming: feed ids as they are generated, get back exactly the new text.
 * Bytes of a character split across tokens are held until the character is complete.
 */
export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private prevId: number | undefined;
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly opts: DecodeOptions & { prevId?: number } = {},
  ) {
    this.prevId = opts.prevId;
  }

  push(id: number): string {
    const prev = this.prevId;
    this.prevId = id;
    if ((this.opts.skipSpecialTokens ?? true) && this.tokenizer.isSpecial(id)) return '';
    return this.decoder.decode(this.tokenizer.tokenBytes(id, prev), { stream: true });
  }

  /** Text of any incomplete trailing character (as U+FFFD), at the end of a stream. */
  flush(): string {
    return this.decoder.decode();
  }
}
