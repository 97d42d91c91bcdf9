import { GrpoError } from '../../errors.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { SentencePieceBpeTokenizer, TokenType } from './sentencepiece-bpe.ts';
import type { Tokenizer } from './tokenizer.ts';
import { addedTokenJson, bosTemplateProcessor, bpeModelJson } from './tokenizer-json.ts';

/**
 * A tokenizer as Hugging Face files (tokenizer.json + tokenizer_config.json), so a checkpoint saved from a
 * llama2.c or GGUF model loads in transformers / vLLM with its tokenizer. SentencePiece vocabularies become a
 * Llama-2-style BPE with byte fallback; merges are derived from piece scores the way transformers'
 * convert_slow_tokenizer.py (SentencePieceExtractor) derives them: every split of a piece into two pieces,
 * ranked by the merged piece's score.
 */
export function hfTokenizerFilesFor(tok: Tokenizer): Record<string, string> {
  if (tok instanceof HfTokenizer) {
    const config = { ...tok.files.tokenizerConfig };
    if (tok.chatTemplate !== undefined) config.chat_template = tok.chatTemplate;
    return {
      'tokenizer.json': JSON.stringify(tok.files.tokenizerJson),
      'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
    };
  }
  if (tok instanceof SentencePieceBpeTokenizer) return sentencePieceHfFiles(tok);
  throw new GrpoError('tokenizer', `cannot export a ${tok.kind} tokenizer as Hugging Face files`);
}

function sentencePieceHfFiles(tok: SentencePieceBpeTokenizer): Record<string, string> {
  const v = tok.toGgufVocab();
  const special = (id: number) => v.tokenTypes[id] === TokenType.control || v.tokenTypes[id] === TokenType.unknown;
  // llama2.c writes control pieces as "\n<s>\n"; HF names them "<s>".
  const tokens = v.tokens.map((t, id) => (special(id) ? t.trim() : t));
  const name = (id: number | undefined) => (id === undefined ? null : tokens[id]);
  const tokenizerJson = llamaTokenizerJson(v, tokens, special);
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'LlamaTokenizerFast',
    bos_token: name(v.bosId),
    eos_token: name(v.eosId),
    unk_token: name(v.unkId),
    pad_token: name(v.padId),
    add_bos_token: v.addBos,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: 1000000000000000,
  };
  if (v.chatTemplate !== undefined) tokenizerConfig.chat_template = v.chatTemplate;
  return {
    'tokenizer.json': JSON.stringify(tokenizerJson),
    'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2) + '\n',
  };
}

type SentencePieceGgufVocab = ReturnType<SentencePieceBpeTokenizer['toGgufVocab']>;

/** tokenizer.json of a Llama-2-style tokenizer: '▁' for spaces and a dummy prefix, BPE with byte fallback. */
function llamaTokenizerJson(
  v: SentencePieceGgufVocab,
  tokens: string[],
  special: (id: number) => boolean,
): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
  });
  const bos = v.bosId === undefined ? null : tokens[v.bosId];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tokens.flatMap((t, id) => (special(id) ? [addedTokenJson(id, t, true)] : [])),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: bos && v.addBos ? bosTemplateProcessor(bos, v.bosId) : null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: bpeModelJson({
      unkToken: v.unkId === undefined ? null : tokens[v.unkId],
      fuseUnk: true,
      byteFallback: true,
      vocab,
      merges: sentencePieceMerges(v, tokens, vocab),
    }),
  };
}

/**
 * BPE merges from SentencePiece scores, as transformers' SentencePieceExtractor derives them: every split of a
 * normal piece into two normal pieces, ranked by the merged piece's score.
 */
function sentencePieceMerges(
  v: SentencePieceGgufVocab,
  tokens: string[],
  vocab: Record<string, number>,
): [string, string][] {
  const mergeable = (id: number) => v.tokenTypes[id] === TokenType.normal || v.tokenTypes[id] === TokenType.userDefined;
  const merges: { l: string; r: string; score: number; order: number }[] = [];
  tokens.forEach((piece, id) => {
    if (!mergeable(id)) return;
    const chars = [...piece];
    const local: { l: string; r: string; li: number; ri: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join(''),
        r = chars.slice(k).join('');
      if (l in vocab && r in vocab && mergeable(vocab[l]) && mergeable(vocab[r]))
        local.push({ l, r, li: vocab[l], ri: vocab[r] });
    }
    local.sort((a, b) => a.li - b.li || a.ri - b.ri);
    for (const m of local) merges.push({ l: m.l, r: m.r, score: v.scores[id], order: merges.length });
  });
  // best score first; transformers then prefers longer left/right pieces; stable otherwise
  merges.sort(
    (a, b) =>
      b.score - a.score || [...b.l].length - [...a.l].length || [...b.r].length - [...a.r].length || a.order - b.order,
  );
  return merges.map((m) => [m.l, m.r]);
}
