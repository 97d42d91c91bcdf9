/**
 * Language-consistency reward (DeepSeek-R1 §2.3.2): the share of the chain of thought written in the
 * target language, to stop language mixing. Words are classified by Unicode script: a run of letters
 * is one word in space-separated scripts, each character is one word in Han, kana, Thai. LaTeX
 * commands, numbers and one-letter Latin tokens (math variables) are not words of any language.
 */
import type { RewardFn } from './types.ts';
import { GrpoError } from '../errors.ts';

const SCRIPTS_OF_LANGUAGE: Record<string, string[]> = {
  en: ['Latin'],
  fr: ['Latin'],
  de: ['Latin'],
  es: ['Latin'],
  it: ['Latin'],
  pt: ['Latin'],
  nl: ['Latin'],
  pl: ['Latin'],
  tr: ['Latin'],
  vi: ['Latin'],
  id: ['Latin'],
  sv: ['Latin'],
  zh: ['Han'],
  ja: ['Han', 'Hiragana', 'Katakana'],
  ko: ['Hangul', 'Han'],
  ru: ['Cyrillic'],
  uk: ['Cyrillic'],
  bg: ['Cyrillic'],
  ar: ['Arabic'],
  fa: ['Arabic'],
  he: ['Hebrew'],
  el: ['Greek'],
  hi: ['Devanagari'],
  th: ['Thai'],
};
// Scripts written without spaces between words: each character counts as one word.
const PER_CHARACTER = new Set(['Han', 'Hiragana', 'Katakana', 'Thai']);
const KNOWN_SCRIPTS = [
  'Latin',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Cyrillic',
  'Arabic',
  'Hebrew',
  'Greek',
  'Devanagari',
  'Thai',
];
const SCRIPT_RES = KNOWN_SCRIPTS.map((name) => [name, new RegExp(`^\\p{Script=${name}}`, 'u')] as const);

export interface LanguageOptions {
  /** ISO 639-1 code ('en', 'zh', …) or a list of Unicode script names ('Latin', 'Han', …). */
  language: string | string[];
}

function scriptOf(ch: string): string | null {
  for (const [name, re] of SCRIPT_RES) if (re.test(ch)) return name;
  return null;
}

/** The reasoning to judge: the <think> block if there is one, else the whole text. */
export function chainOfThought(completion: string): string {
  const m = /<think>([\s\S]*?)(?:<\/think>|$)/.exec(completion);
  return m ? m[1] : completion;
}

/** Share in [0, 1] of words of `text` written in one of `scripts`; 0 when it has no words. */
export function targetLanguageShare(text: string, scripts: readonly string[]): number {
  const cleaned = text.replace(/\\[a-zA-Z]+/g, ' ').replace(/<\/?[a-z]+>/g, ' ');
  let total = 0;
  let inTarget = 0;
  for (const m of cleaned.matchAll(/\p{L}+/gu)) {
    // Split a letter run wherever the script changes ("用x表示" has Han, Latin, Han).
    const chars = [...m[0]];
    let i = 0;
    while (i < chars.length) {
      const script = scriptOf(chars[i]);
      let j = i + 1;
      while (j < chars.length && scriptOf(chars[j]) === script) j++;
      const length = j - i;
      const words = script !== null && PER_CHARACTER.has(script) ? length : 1;
      if (!(script === 'Latin' && length === 1)) {
        total += words;
        if (script !== null && scripts.includes(script)) inTarget += words;
      }
      i = j;
    }
  }
  return total === 0 ? 0 : inTarget / total;
}

export function scriptsFor(language: string | string[]): string[] {
  if (Array.isArray(language)) return language;
  const scripts = SCRIPTS_OF_LANGUAGE[language];
  if (!scripts) {
    throw new GrpoError(
      'reward',
      `language reward: unknown language '${language}'; use one of ${Object.keys(SCRIPTS_OF_LANGUAGE).join(', ')} or a list of Unicode scripts (${KNOWN_SCRIPTS.join(', ')})`,
    );
  }
  return scripts;
}

/** Reward = share of the chain of thought in the target language (R1 adds it to accuracy). */
export function languageConsistencyReward(opts: LanguageOptions): RewardFn {
  const scripts = scriptsFor(opts.language);
  return (completion) => targetLanguageShare(chainOfThought(completion), scripts);
}
