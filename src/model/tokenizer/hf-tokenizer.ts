import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { GrpoError } from '../../errors.ts';
import { byteLevelTokenBytes } from './byte-level.ts';
import { ChatTemplate, pickChatTemplate } from './chat-template.ts';
import {
  utf8Text,
  type ChatMessage,
  type ChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  type Tokenizer,
} from './tokenizer.ts';

type Json = Record<string, unknown>;

/** The files of a Hugging Face tokenizer, parsed. Only tokenizer.json is required. */
export interface HfTokenizerFiles {
  tokenizerJson: Json;
  tokenizerConfig?: Json;
  /** the model's config.json / generation_config.json: more eos ids, bos/pad fallbacks */
  modelConfig?: Json;
  generationConfig?: Json;
  /** chat_template.jinja, which newer checkpoints keep beside tokenizer_config.json (it takes precedence) */
  chatTemplate?: string;
}

/** How a vocabulary string maps to bytes, from the tokenizer.json decoder. */
type TokenByteMode = 'byte-level' | 'sentencepiece' | 'text';

function decoderTypes(decoder: unknown): string[] {
  if (!decoder || typeof decoder !== 'object') return [];
  const d = decoder as { type?: string; decoders?: unknown[]; pattern?: { String?: string } };
  const own = d.type === 'Replace' && d.pattern?.String === '▁' ? ['Replace▁'] : [d.type ?? ''];
  return [...own, ...(d.decoders ?? []).flatMap(decoderTypes)];
}

/** A special-token entry of tokenizer_config.json is a string or an AddedToken-like {content}. */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

const byteFallbackPiece = /^<0x([0-9A-Fa-f]{2})>$/;

/** Tokenizer over an HF tokenizer.json (run by @huggingface/tokenizers), with chat template and eos ids. */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosIds: readonly number[];
  readonly padId: number | undefined;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly chatTemplate: string | undefined;
  /** whether encode prepends BOS by default (tokenizer_config.json's add_bos_token, else the post-processor's) */
  readonly addBos: boolean;
  /**
   * whether the tokenizer files append EOS to an encoded text (add_eos_token, else the post-processor), as
   * transformers and llama.cpp then do; grpo-ts's encode never appends it (prompts are continued, not ended)
   */
  readonly addEos: boolean;
  private readonly impl: HfTokenizerImpl;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly tokenToIdTable: Map<string, number>;
  private readonly specialIds: Set<number>;
  private readonly addedContent: Map<number, string>;
  private readonly byteMode: TokenByteMode;
  private readonly template: ChatTemplate | undefined;
  private readonly bytesCache = new Map<number, Uint8Array>();

  /** the parsed files it was built from (to save them beside a checkpoint) */
  constructor(
    readonly files: HfTokenizerFiles,
    readonly kind: 'hf' | 'gguf' = 'hf',
  ) {
    const config = files.tokenizerConfig ?? {};
    try {
      this.impl = new HfTokenizerImpl(files.tokenizerJson, config);
    } catch (e) {
      throw new GrpoError('tokenizer', `cannot build the tokenizer from tokenizer.json: ${(e as Error).message}`);
    }
    this.tokenToIdTable = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of this.tokenToIdTable.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.idToTokenTable = new Array(this.vocabSize);
    for (const [tok, id] of this.tokenToIdTable) this.idToTokenTable[id] = tok;

    const added = addedTokenTables(this.impl);
    this.addedContent = added.addedContent;
    this.specialIds = added.specialIds;
    this.specialTokens = added.specialTokens;
    const ids = specialTokenIds(files, this.tokenToIdTable);
    this.bosId = ids.bosId;
    this.padId = ids.padId;
    this.eosIds = ids.eosIds;
    this.byteMode = tokenByteMode(files.tokenizerJson.decoder);

    // Default BOS / EOS: what tokenizer_config.json says, else what the tokenizer's own post-processor does
    // (Llama adds <s> / <|begin_of_text|>, Qwen nothing).
    const plain = this.impl.encode('a', { add_special_tokens: false }).ids;
    const withSpecial = this.impl.encode('a', { add_special_tokens: true }).ids;
    const prepends = this.bosId !== undefined && withSpecial[0] === this.bosId && plain[0] !== this.bosId;
    const appends =
      withSpecial.length > plain.length + (prepends ? 1 : 0) &&
      this.eosIds.includes(withSpecial[withSpecial.length - 1]);
    this.addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : prepends;
    this.addEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : appends;

    this.chatTemplate = files.chatTemplate ?? pickChatTemplate(config.chat_template);
    if (this.chatTemplate !== undefined) this.template = chatTemplateWithTokens(this.chatTemplate, config);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.impl.encode(text, { add_special_tokens: false }).ids;
    if ((opts.addBos ?? this.addBos) && this.bosId !== undefined) ids.unshift(this.bosId);
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const keep = (opts.skipSpecialTokens ?? true) ? ids.filter((id) => !this.specialIds.has(id)) : [...ids];
    if (keep.length === 0) return ''; // the library rejects []
    // No clean_up_tokenization_spaces: decoding stays lossless and equal to streamed text (as vLLM's detokenizer).
    return this.impl.decode(keep, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  tokenBytes(id: number): Uint8Array {
    let bytes = this.bytesCache.get(id);
    if (bytes) return bytes;
    const token = this.idToTokenTable[id];
    if (token === undefined)
      throw new GrpoError('tokenizer', `token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    const added = this.addedContent.get(id);
    if (added !== undefined) bytes = Buffer.from(added, 'utf8');
    else if (this.byteMode === 'byte-level') bytes = byteLevelTokenBytes(token);
    else if (this.byteMode === 'sentencepiece') {
      const m = byteFallbackPiece.exec(token);
      bytes = m ? Uint8Array.of(parseInt(m[1], 16)) : Buffer.from(token.replaceAll('▁', ' '), 'utf8');
    } else bytes = Buffer.from(this.impl.decode([id], { skip_special_tokens: false }), 'utf8');
    this.bytesCache.set(id, bytes);
    return bytes;
  }

  decodeToken(id: number): string {
    return utf8Text(this.tokenBytes(id));
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdTable.get(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (!this.template)
      throw new GrpoError(
        'template',
        'this tokenizer has no chat template (tokenizer_config.json has no chat_template); format prompts yourself or use a template-bearing tokenizer',
      );
    return this.template.render(messages, opts);
  }
}

/** The added tokens' contents by id, and which of them are special (decode drops those). */
function addedTokenTables(impl: HfTokenizerImpl): {
  addedContent: Map<number, string>;
  specialIds: Set<number>;
  specialTokens: Map<string, number>;
} {
  const addedContent = new Map<number, string>();
  const specialIds = new Set<number>();
  const specialTokens = new Map<string, number>();
  for (const [id, t] of impl.get_added_tokens_decoder()) {
    addedContent.set(id, t.content);
    if (t.special) {
      specialIds.add(id);
      specialTokens.set(t.content, id);
    }
  }
  return { addedContent, specialIds, specialTokens };
}

/** bos, pad and every eos id, from tokenizer_config.json first and the model's config files after. */
function specialTokenIds(
  files: HfTokenizerFiles,
  tokenToId: ReadonlyMap<string, number>,
): { bosId: number | undefined; padId: number | undefined; eosIds: number[] } {
  const config = files.tokenizerConfig ?? {};
  const model = { ...files.modelConfig, ...files.generationConfig };
  const idOf = (key: string): number | undefined => {
    const s = tokenString(config[key]);
    return s === undefined ? undefined : tokenToId.get(s);
  };
  // tokenizer_config decides when it names the token (even as null); the model config is a fallback.
  const bosId = 'bos_token' in config ? idOf('bos_token') : (model.bos_token_id as number | undefined);
  const padId = idOf('pad_token') ?? (model.pad_token_id as number | undefined);
  const eosIds: number[] = [];
  for (const v of [idOf('eos_token'), files.modelConfig?.eos_token_id, files.generationConfig?.eos_token_id].flat())
    if (typeof v === 'number' && !eosIds.includes(v)) eosIds.push(v);
  return { bosId, padId, eosIds };
}

function tokenByteMode(decoder: unknown): TokenByteMode {
  const types = decoderTypes(decoder);
  if (types.includes('ByteLevel')) return 'byte-level';
  if (types.some((t) => t === 'Metaspace' || t === 'ByteFallback' || t === 'Replace▁')) return 'sentencepiece';
  return 'text';
}

/** The chat template, rendered with the special-token strings tokenizer_config.json names. */
function chatTemplateWithTokens(template: string, config: Json): ChatTemplate {
  const strings: Record<string, string | null> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token'])
    strings[key] = tokenString(config[key]) ?? null;
  return new ChatTemplate(template, strings);
}

function readJsonIfExists(path: string): Json | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new GrpoError('tokenizer', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Load tokenizer.json (+ tokenizer_config.json, chat_template.jinja, config.json, generation_config.json) from a folder. */
export function loadHfTokenizerFolder(dir: string): HfTokenizer {
  const tokenizerJson = readJsonIfExists(join(dir, 'tokenizer.json'));
  if (!tokenizerJson) throw new GrpoError('tokenizer', `${dir} has no tokenizer.json`);
  const templatePath = join(dir, 'chat_template.jinja');
  return new HfTokenizer({
    tokenizerJson,
    tokenizerConfig: readJsonIfExists(join(dir, 'tokenizer_config.json')),
    modelConfig: readJsonIfExists(join(dir, 'config.json')),
    generationConfig: readJsonIfExists(join(dir, 'generation_config.json')),
    chatTemplate: existsSync(templatePath) ? readFileSync(templatePath, 'utf8') : undefined,
  });
}
