import { GrpoError } from '../errors.ts';
import { broadcastToTokens, type Ragged } from './ragged.ts';

/**
 * HICRA, Hierarchy-Aware Credit Assignment (arXiv 2509.03646; docs/methods/hicra.md): amplify the advantage on
 * planning tokens, A + α·|A|·mask — A(1+α) when A > 0, A(1−α) when A < 0. The mask is a constant.
 */
export function hicraAdvantages(advantages: Ragged | number[], planningMask: Ragged, alpha = 0.2): Ragged {
  const adv = broadcastToTokens(
    advantages,
    planningMask.map((m) => m.length),
    'advantages',
  );
  return adv.map((a, i) => a.map((x, t) => x + alpha * Math.abs(x) * planningMask[i][t]));
}

// Byte-level BPE (GPT-2, Qwen) and SentencePiece (Llama) spell a leading space / newline with these markers.
const MARKERS: Record<string, string> = { Ġ: ' ', '▁': ' ', Ċ: '\n', ĉ: '\t' };
const isWordChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

/**
 * Normalised text with, for each character, the index of the token it came from: lower-cased (unless
 * caseSensitive), BPE space markers turned into spaces, every whitespace run collapsed to one space.
 */
function normaliseWithOwners(pieces: readonly string[], caseSensitive: boolean): { text: string; owner: number[] } {
  let text = '';
  const owner: number[] = [];
  pieces.forEach((piece, j) => {
    for (const raw of piece) {
      let c = MARKERS[raw] ?? raw;
      if (/\s/u.test(c)) {
        if (text.endsWith(' ') || text.length === 0) continue;
        c = ' ';
      } else if (!caseSensitive) {
        c = c.toLowerCase(); // may change length (e.g. 'İ'), so owners are pushed per UTF-16 unit below
      }
      text += c;
      for (let u = 0; u < c.length; u++) owner.push(j);
    }
  });
  return { text, owner };
}

/**
 * Planning-token mask for HICRA: 1 on every token that overlaps an occurrence of a strategic n-gram
 * ("let's try a different approach"), 0 elsewhere. Matching is over the decoded words, not token ids:
 * `tokens` are the decoded text pieces of the completion's tokens (their concatenation is the completion text);
 * text and grams are compared case-insensitively with whitespace collapsed, and a match must start and end at
 * word boundaries, so "try" does not match inside "retry". Subword pieces of a matched word are all marked.
 */
export function planningTokenMask(
  tokens: readonly string[],
  strategicGrams: readonly string[],
  opts: { caseSensitive?: boolean } = {},
): number[] {
  const caseSensitive = opts.caseSensitive ?? false;
  const { text, owner } = normaliseWithOwners(tokens, caseSensitive);
  const mask = new Array<number>(tokens.length).fill(0);
  for (const gram of strategicGrams) {
    const needle = normaliseWithOwners([gram], caseSensitive).text.trim();
    if (needle.length === 0)
      throw new GrpoError(
        'config',
        'a strategic n-gram is empty; give HICRA phrases such as "let\'s try a different approach"',
      );
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      const end = at + needle.length;
      const boundaryStart = !isWordChar(needle[0]) || !isWordChar(text[at - 1]);
      const boundaryEnd = !isWordChar(needle[needle.length - 1]) || !isWordChar(text[end]);
      if (!boundaryStart || !boundaryEnd) continue;
      for (let k = at; k < end; k++) mask[owner[k]] = 1;
    }
  }
  return mask;
}

/** planningTokenMask for a batch: one token-piece list per completion. */
export function planningTokenMasks(
  tokensBySequence: readonly (readonly string[])[],
  strategicGrams: readonly string[],
  opts: { caseSensitive?: boolean } = {},
): Ragged {
  return tokensBySequence.map((t) => planningTokenMask(t, strategicGrams, opts));
}
