/**
 * Finds the final answer in a model's response. Order: <answer> tags; the last \boxed{} together with the
 * boxes just before it that a short separator joins ("\boxed{1} and \boxed{2}", Math-Verify's
 * extract_boxed_content); GSM8K's "#### N"; a "final answer is …" / "the answer is …" / "Answer: …"
 * phrase; the last $…$, $$…$$, \(…\) or \[…\] span (spans joined by "and", "or" or a comma count as
 * one answer, "$1$ and $2$"); and — unless switched off — the last number. Text after the last
 * </think> is searched before the whole response.
 */
import { matchingBrace, normalizeAnswer } from './normalize.ts';
import { parseAnswer } from './structure.ts';

export interface ExtractOptions {
  /** Fall back to the last number when nothing marks the answer (TRL/GSM8K style). Default true. */
  fallbackLastNumber?: boolean;
}

interface Box {
  start: number;
  end: number; // index of the closing brace (or last character)
  content: string;
}

/** The \boxed{…} / \fbox{…} / "\boxed 5" that starts before `limit` and is closest to it; null if none. */
function boxBefore(text: string, limit: number): Box | null {
  let from = limit;
  for (;;) {
    if (from <= 0) return null; // lastIndexOf treats a negative position as 0
    const start = Math.max(text.lastIndexOf('\\boxed', from - 1), text.lastIndexOf('\\fbox', from - 1));
    if (start < 0) return null;
    let i = start + (text.startsWith('\\boxed', start) ? 6 : 5);
    if (/[a-zA-Z]/.test(text[i] ?? '')) {
      from = start; // \boxedfoo is another command
      continue;
    }
    if (text[i] === ' ' && text[i + 1] !== '{') {
      const m = /^ +([^\s$]+)/.exec(text.slice(i, i + 200));
      return m ? { start, end: i + m[0].length - 1, content: m[1] } : null;
    }
    while (text[i] === ' ') i++;
    if (text[i] !== '{') return null;
    const close = matchingBrace(text, i);
    return close < 0 ? null : { start, end: close, content: text.slice(i + 1, close).trim() };
  }
}

/** Content of the last \boxed{…} / \fbox{…} (braces balanced), or of "\boxed 5"; null if none. */
export function lastBoxed(text: string): string | null {
  return boxBefore(text, text.length)?.content ?? null;
}

/**
 * The last box and the boxes before it that belong to the same answer, joined by ", ". A box joins the
 * one after it when fewer than 10 characters separate them, or fewer than 70 that hold "and", "or", a
 * comma or a semicolon (Math-Verify); identical neighbours count once.
 */
export function lastBoxedGroup(text: string): string | null {
  let box = boxBefore(text, text.length);
  if (!box) return null;
  const contents = [box.content];
  for (let prev = boxBefore(text, box.start); prev; prev = boxBefore(text, prev.start)) {
    const between = text.slice(prev.end + 1, box.start);
    const close = between.length < 10;
    const separated = between.length < 70 && prev.content !== box.content && /\b(?:and|or)\b|[,;]/.test(between);
    if (!close && !separated) break;
    if (prev.content !== contents[0]) contents.unshift(prev.content);
    box = prev;
  }
  return contents.join(', ');
}

interface Span {
  start: number;
  end: number;
  content: string;
}

// Display math may span lines; inline math may not (Math-Verify's latex environments). An inline $ right
// after a digit or backslash is a price or an escaped dollar, not math.
const DISPLAY_SPANS = [/(?<!\\)\$\$([\s\S]+?)(?<!\\)\$\$/g, /\\\[([\s\S]+?)\\\]/g];
const INLINE_SPANS = [/(?<![\\\d$])\$((?:\\\$|[^\n$])+?)(?<!\\)\$/g, /\\\(((?:[^\\\n]|\\(?!\)))+?)\\\)/g];

function mathSpans(text: string): Span[] {
  const spans: Span[] = [];
  let masked = text;
  for (const re of DISPLAY_SPANS) {
    for (const m of masked.matchAll(re)) {
      spans.push({ start: m.index!, end: m.index! + m[0].length, content: m[1].trim() });
    }
    masked = masked.replace(re, (s) => ' '.repeat(s.length));
  }
  for (const re of INLINE_SPANS) {
    for (const m of masked.matchAll(re))
      spans.push({ start: m.index!, end: m.index! + m[0].length, content: m[1].trim() });
  }
  return spans.sort((a, b) => a.end - b.end);
}

/**
 * A span holds an answer unless it is prose between two price signs ("$5 each, so $"): text with spaces
 * that nobody wrapped in \\text{} is not one.
 */
function looksLikeMath(content: string): boolean {
  if (content.length > 20_000) return false;
  const n = normalizeAnswer(content);
  if (n === '') return false;
  return parseAnswer(n).kind !== 'text' || !/\s/.test(n) || /\\(?:text|mbox|mathrm)/.test(content);
}

interface Found {
  value: string;
  end: number;
}

/** The last math span that holds an answer, with the spans an "and" / "or" / comma joins to it. */
function lastMathSpanAt(text: string): Found | null {
  const spans = mathSpans(text);
  for (let k = spans.length - 1; k >= 0; k--) {
    if (!looksLikeMath(spans[k].content)) continue;
    const group = [spans[k].content];
    for (let j = k - 1; j >= 0 && group.length < 6; j--) {
      const gap = text.slice(spans[j].end, spans[j + 1].start);
      if (!/^\s*(?:,?\s*(?:and|or)|,)\s*$/i.test(gap) || !looksLikeMath(spans[j].content)) break;
      group.unshift(spans[j].content);
    }
    return { value: group.join(', '), end: spans[k].end };
  }
  return null;
}

export function lastMathSpan(text: string): string | null {
  return lastMathSpanAt(text)?.value ?? null;
}

// A number in prose (Math-Verify's number regex): thousands groups "1,234.5" / "1 234", a decimal point or
// comma "2,74", ".5", or a plain \frac{a}{b}; not glued to a word before it ("AZYUK2A" has none).
const NUMBER =
  /(?<![A-Za-z_\d.])(?:-?\\[dtc]?frac\{-?\d+(?:\.\d+)?\}\{-?\d+(?:\.\d+)?\}|-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?(?!\d)|-?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?(?![\d,.])|-?\d+[.,]\d+(?:\s*\/\s*\d+)?|\.\d+|-?\d+(?:\s*\/\s*\d+(?:\.\d+)?)?)/g;

/** A prose number in the form the normaliser reads: separators dropped, a decimal comma made a point. */
function canonicalNumber(raw: string): string {
  const s = raw.replace(/\s*\/\s*/g, '/');
  if (/^-?\d{1,3}(?:[ ,]\d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/[ ,]/g, '');
  return /^-?\d+,\d+$/.test(s) ? s.replace(',', '.') : s;
}

function lastNumberAt(text: string): Found | null {
  let last: RegExpExecArray | null = null;
  NUMBER.lastIndex = 0;
  for (let m = NUMBER.exec(text); m; m = NUMBER.exec(text)) last = m;
  return last ? { value: canonicalNumber(last[0]), end: last.index + last[0].length } : null;
}

/** The last number in the text, fractions like 3/4 and \\frac{3}{4} included, thousands separators removed. */
export function lastNumber(text: string): string | null {
  return lastNumberAt(text)?.value ?? null;
}

function firstNumber(text: string): string | null {
  NUMBER.lastIndex = 0;
  const m = NUMBER.exec(text);
  return m ? canonicalNumber(m[0]) : null;
}

/** Words of three or more letters outside math spans and commands: "The largest $n$ is 34". */
function isProse(sentence: string): boolean {
  const outside = sentence.replace(/\$[^$]*\$|\\\(.*?\\\)/g, ' ').replace(/\\[a-zA-Z]+(?:\{[^{}]*\})?/g, ' ');
  return /[a-zA-Z]{3,}/.test(outside);
}

/**
 * The value a sentence of prose states: what follows its last " is " / " = ", else its last math span,
 * else its first number (Math-Verify takes the first number within 50 characters of "answer").
 */
function valueInProse(sentence: string): string | null {
  const is = [...sentence.matchAll(/\s(?:is|are|equals|=)\s*:?\s+/gi)].pop();
  if (is) {
    const after = sentence.slice(is.index! + is[0].length).trim();
    if (after !== '') return lastMathSpan(after) ?? (isProse(after) ? firstNumber(after) : after) ?? after;
  }
  return lastMathSpan(sentence) ?? firstNumber(sentence);
}

/** The span a phrase like "the answer is" introduces: a box, a math span, or the rest of its sentence. */
function phraseValue(rest: string): string | null {
  const s = rest.replace(/^[\s*]*(?:is\b)?[\s*]*[:=]?\s*/i, '');
  const line = s.split('\n')[0];
  const boxed = lastBoxedGroup(line);
  if (boxed !== null) return boxed;
  // $…$ content may hold an escaped \$ (currency); \(…\) and \[…\] end at their closing macro.
  const math = /^\$\$?((?:\\[\s\S]|[^\\$])*)\$/.exec(s) ?? /^\\[([]([\s\S]*?)\\[)\]]/.exec(s);
  if (math) return math[1].trim() || null;
  const sentence = line.split(/\.(?=\s|$)/)[0];
  const value = sentence
    .replace(/[\s*]+$/, '')
    .replace(/^\*+\s*/, '')
    .trim();
  if (value === '') return null;
  return isProse(value) ? (valueInProse(value) ?? value) : value;
}

function lastAnswerPhrase(text: string): string | null {
  const re = /\bfinal answer\b(?:\s*(?:is|:|=))?|\bthe answer\s*(?:is|:|=)|^\s*\**answer\**\s*:/gim;
  let best: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    best = m;
    if (m[0] === '') re.lastIndex++;
  }
  return best ? phraseValue(text.slice(best.index + best[0].length)) : null;
}

function lastAnswerTag(text: string): string | null {
  const matches = [...text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  if (matches.length === 0) return null;
  const content = matches[matches.length - 1][1];
  const inner = lastBoxedGroup(content) ?? lastAnswerPhrase(content) ?? content.trim();
  return inner === '' ? null : inner;
}

function lastHashes(text: string): string | null {
  const matches = [...text.matchAll(/####\s*([^\n]+)/g)];
  if (matches.length === 0) return null;
  const value = matches[matches.length - 1][1].trim();
  return value === '' ? null : value;
}

/** "The final answer is X. I hope it is correct." (the Minerva prompt's closing line) outranks a box. */
function hopePhrase(text: string): { value: string | null; index: number } | null {
  const all = [...text.matchAll(/final answer is:?\s*([\s\S]{1,300}?)\.?\s?I hope/gi)];
  const m = all.pop();
  return m ? { value: phraseValue(m[1]), index: m.index! } : null;
}

function marked(text: string): string | null {
  const tag = lastAnswerTag(text);
  if (tag !== null) return tag;
  const hope = hopePhrase(text);
  const lastBox = Math.max(text.lastIndexOf('\\boxed'), text.lastIndexOf('\\fbox'));
  if (hope?.value && hope.index > lastBox) return hope.value;
  return lastBoxedGroup(text) ?? lastHashes(text) ?? lastAnswerPhrase(text);
}

/** Unmarked text: whichever of the last math span and (if allowed) the last number ends later, as Math-Verify. */
function unmarked(text: string, numbers: boolean): string | null {
  const span = lastMathSpanAt(text);
  const number = numbers ? lastNumberAt(text) : null;
  if (span && number) return number.end > span.end ? number.value : span.value;
  return (span ?? number)?.value ?? null;
}

/** The final answer in `text`, or null when there is none. */
export function extractAnswer(text: string, opts: ExtractOptions = {}): string | null {
  const numbers = opts.fallbackLastNumber ?? true;
  const thinkEnd = text.lastIndexOf('</think>');
  const afterThink = thinkEnd >= 0 ? text.slice(thinkEnd + '</think>'.length) : text;
  const searched = afterThink.trim() !== '' ? [afterThink] : [];
  if (thinkEnd >= 0) searched.push(text);
  for (const part of searched) {
    const answer = marked(part);
    if (answer !== null) return answer;
  }
  for (const part of searched) {
    const answer = unmarked(part, numbers);
    if (answer !== null) return answer;
  }
  return null;
}
