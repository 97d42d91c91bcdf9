import { GrpoError } from '../../errors.ts';
import { ChatTemplate } from './chat-template.ts';
import {
  utf8Text,
  type ChatMessage,
  type ChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  type Tokenizer,
} from './tokenizer.ts';

/**
 * SentencePiece-style BPE by piece scores, as llama2.c's run.c `encode` and llama.cpp's SPM tokenizer do it:
 * prepend a space (the "dummy prefix"), split the text into UTF-8 characters (a character missing from the
 * vocabulary becomes its `<0xXX>` byte tokens), then repeatedly merge the adjacent pair whose concatenation
 * is the highest-scoring piece (leftmost on ties). A heap over a linked list makes this O(n log n) instead of
 * run.c's O(n^2) rescans, with the same result.
 */

/** llama.cpp token types (llama_token_type / gguf token_type). */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SentencePieceVocab {
  /** piece strings with spaces as ' ' (llama2.c style), not '▁' */
  pieces: string[];
  scores: ArrayLike<number>;
  /** llama.cpp token types; derived from the pieces when absent */
  types?: ArrayLike<number>;
  bosId?: number;
  eosIds: number[];
  unkId?: number;
  padId?: number;
  /** prepend ' ' to non-empty text before tokenizing (SentencePiece add_dummy_prefix); default true */
  addDummyPrefix?: boolean;
  /** default of EncodeOptions.addBos; default true */
  addBos?: boolean;
  chatTemplate?: string;
}

const bytePiece = /^<0x([0-9A-Fa-f]{2})>$/;

/** Max-heap of candidate merges by (score desc, left position asc). */
class MergeHeap {
  private score: number[] = [];
  private left: number[] = [];
  private right: number[] = [];
  private len: number[] = [];
  private id: number[] = [];
  private size = 0;
  private before(a: number, b: number): boolean {
    return this.score[a] > this.score[b] || (this.score[a] === this.score[b] && this.left[a] < this.left[b]);
  }
  private swap(a: number, b: number): void {
    for (const arr of [this.score, this.left, this.right, this.len, this.id]) [arr[a], arr[b]] = [arr[b], arr[a]];
  }
  push(score: number, left: number, right: number, len: number, id: number): void {
    let i = this.size++;
    this.score[i] = score;
    this.left[i] = left;
    this.right[i] = right;
    this.len[i] = len;
    this.id[i] = id;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** pop the best merge into `out` ([left, right, len, id]); false when empty */
  pop(out: number[]): boolean {
    if (this.size === 0) return false;
    out[0] = this.left[0];
    out[1] = this.right[0];
    out[2] = this.len[0];
    out[3] = this.id[0];
    this.size--;
    if (this.size > 0) {
      this.swap(0, this.size);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let best = i;
        if (l < this.size && this.before(l, best)) best = l;
        if (r < this.size && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return true;
  }
}

export class SentencePieceBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosIds: readonly number[];
  readonly padId: number | undefined;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly chatTemplate: string | undefined;
  private readonly pieces: string[];
  private readonly scores: ArrayLike<number>;
  private readonly types: Uint8Array;
  /** mergeable pieces (normal / user-defined): text -> id */
  private readonly pieceIds = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly pieceBytes: Uint8Array[];
  private readonly unkId: number | undefined;
  private readonly addDummyPrefix: boolean;
  private readonly defaultAddBos: boolean;
  private readonly template: ChatTemplate | undefined;

  constructor(
    vocab: SentencePieceVocab,
    readonly kind: 'llama2c' | 'gguf',
  ) {
    const n = vocab.pieces.length;
    if (vocab.scores.length !== n)
      throw new GrpoError('tokenizer', `vocabulary has ${n} pieces but ${vocab.scores.length} scores`);
    this.vocabSize = n;
    this.pieces = vocab.pieces;
    this.scores = vocab.scores;
    this.bosId = vocab.bosId;
    this.eosIds = vocab.eosIds;
    this.padId = vocab.padId;
    this.unkId = vocab.unkId;
    this.addDummyPrefix = vocab.addDummyPrefix ?? true;
    this.defaultAddBos = vocab.addBos ?? true;
    this.types = new Uint8Array(n);
    this.pieceBytes = new Array(n);
    const special = new Map<string, number>();
    for (let id = 0; id < n; id++) {
      const piece = vocab.pieces[id];
      const byte = bytePiece.exec(piece);
      let type = vocab.types ? vocab.types[id] : byte ? TokenType.byte : TokenType.normal;
      if (!vocab.types && (id === vocab.bosId || vocab.eosIds.includes(id))) type = TokenType.control;
      if (!vocab.types && id === vocab.unkId) type = TokenType.unknown;
      this.types[id] = type;
      if (type === TokenType.byte && byte) {
        this.byteIds[parseInt(byte[1], 16)] = id;
        this.pieceBytes[id] = Uint8Array.of(parseInt(byte[1], 16));
      } else {
        this.pieceBytes[id] = Buffer.from(piece, 'utf8');
      }
      if (type === TokenType.normal || type === TokenType.userDefined) {
        if (!this.pieceIds.has(piece)) this.pieceIds.set(piece, id);
      }
      if (type === TokenType.control || type === TokenType.unknown) special.set(piece, id);
    }
    this.specialTokens = special;
    this.chatTemplate = vocab.chatTemplate;
    if (vocab.chatTemplate !== undefined) {
      const str = (id: number | undefined) => (id === undefined ? null : vocab.pieces[id]);
      this.template = new ChatTemplate(vocab.chatTemplate, {
        bos_token: str(vocab.bosId),
        eos_token: str(vocab.eosIds[0]),
        unk_token: str(vocab.unkId),
        pad_token: str(vocab.padId),
      });
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.defaultAddBos) && this.bosId !== undefined) out.push(this.bosId);
    if (text.length === 0) return out;
    const input = this.addDummyPrefix ? ' ' + text : text;

    // Initial symbols: one per character; `str` null marks byte-fallback symbols, which never merge.
    const ids: number[] = [];
    const str: (string | null)[] = [];
    for (const ch of input) {
      const id = this.pieceIds.get(ch);
      if (id !== undefined) {
        ids.push(id);
        str.push(ch);
        continue;
      }
      for (const b of Buffer.from(ch, 'utf8')) {
        const byteId = this.byteIds[b];
        if (byteId < 0 && this.unkId === undefined)
          throw new GrpoError(
            'tokenizer',
            `cannot encode ${JSON.stringify(ch)}: no byte token <0x${b.toString(16).toUpperCase().padStart(2, '0')}> and no <unk>`,
          );
        ids.push(byteId >= 0 ? byteId : this.unkId!);
        str.push(null);
      }
    }
    const count = ids.length;
    const next = Int32Array.from({ length: count }, (_, i) => (i + 1 < count ? i + 1 : -1));
    const prev = Int32Array.from({ length: count }, (_, i) => i - 1);
    const heap = new MergeHeap();
    const tryPair = (l: number, r: number) => {
      if (l < 0 || r < 0 || str[l] === null || str[r] === null) return;
      const merged = str[l]! + str[r]!;
      const id = this.pieceIds.get(merged);
      if (id !== undefined) heap.push(this.scores[id], l, r, merged.length, id);
    };
    for (let i = 0; i + 1 < count; i++) tryPair(i, i + 1);

    const top = [0, 0, 0, 0];
    while (heap.pop(top)) {
      const [l, r, len, id] = top;
      // Stale candidate: one side already merged elsewhere since it was queued.
      if (str[l] === null || str[r] === null || next[l] !== r || str[l]!.length + str[r]!.length !== len) continue;
      str[l] = str[l]! + str[r]!;
      ids[l] = id;
      str[r] = null;
      ids[r] = -1;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryPair(prev[l], l);
      tryPair(l, next[l]);
    }
    for (let i = 0; i >= 0 && i < count; i = next[i]) out.push(ids[i]);
    return out;
  }

  tokenBytes(id: number, prevId?: number): Uint8Array {
    const bytes = this.pieceBytes[id];
    if (bytes === undefined)
      throw new GrpoError('tokenizer', `token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    // After BOS the decoder drops the dummy-prefix space (llama2.c run.c `decode`, SentencePiece).
    if (prevId !== undefined && prevId === this.bosId && bytes[0] === 0x20) return bytes.subarray(1);
    return bytes;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const parts: Uint8Array[] = [];
    let prev: number | undefined;
    for (const id of ids) {
      if (!(skip && this.isSpecial(id))) parts.push(this.tokenBytes(id, prev));
      prev = id;
    }
    return utf8Text(Buffer.concat(parts));
  }

  decodeToken(id: number, prevId?: number): string {
    return utf8Text(this.tokenBytes(id, prevId));
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id];
  }

  tokenToId(token: string): number | undefined {
    const byte = bytePiece.exec(token);
    if (byte) return this.byteIds[parseInt(byte[1], 16)] >= 0 ? this.byteIds[parseInt(byte[1], 16)] : undefined;
    return this.pieceIds.get(token) ?? this.specialTokens.get(token);
  }

  isSpecial(id: number): boolean {
    const t = this.types[id];
    return t === TokenType.control || t === TokenType.unknown;
  }

  /** The vocabulary as llama.cpp's GGUF `llama` tokenizer stores it (spaces as '▁'). */
  toGgufVocab(): {
    model: 'llama';
    tokens: string[];
    scores: number[];
    tokenTypes: number[];
    bosId?: number;
    eosId?: number;
    unkId?: number;
    padId?: number;
    addBos: boolean;
    chatTemplate?: string;
  } {
    return {
      model: 'llama',
      tokens: this.pieces.map((p, id) =>
        this.types[id] === TokenType.normal || this.types[id] === TokenType.userDefined ? p.replaceAll(' ', '▁') : p,
      ),
      scores: Array.from(this.scores),
      tokenTypes: Array.from(this.types),
      bosId: this.bosId,
      eosId: this.eosIds[0],
      unkId: this.unkId,
      padId: this.padId,
      addBos: this.defaultAddBos,
      chatTemplate: this.chatTemplate,
    };
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (!this.template)
      throw new GrpoError(
        'template',
        `this ${this.kind} tokenizer has no chat template; format prompts yourself or load a tokenizer that has one`,
      );
    return this.template.render(messages, opts);
  }
}
