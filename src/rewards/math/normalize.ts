/**
 * String-level clean-up of a math answer before it is parsed: the LaTeX noise that changes how an
 * answer looks but not what it means. Follows Hendrycks MATH `strip_string` (math_equivalence.py) and
 * the extra cases math-verify handles (units in \text, percent, currency, thousands separators).
 */

const UNICODE_REPLACEMENTS: [RegExp, string][] = [
  [/[\u2212\u2013\u2014]/g, '-'], // minus sign, en/em dash
  [/\u00d7/g, '\\times '],
  [/\u00f7/g, '\\div '],
  [/[\u00b7\u22c5]/g, '\\cdot '],
  [/\u03c0/g, '\\pi '],
  [/\u221e/g, '\\infty '],
  [/\u221a/g, '\\sqrt'],
  [/\u00b0/g, '^\\circ'],
  [/\u2264/g, '\\le '],
  [/\u2265/g, '\\ge '],
  [/\u2260/g, '\\ne '],
  [/\u2248/g, '\\approx '],
  [/\u222a/g, '\\cup '],
  [/\u2208/g, '\\in '],
  [/\uff0c/g, ','],
  [/[\u00a0\u2009\u202f]/g, ' '],
];

const TEXT_COMMANDS =
  'text|textbf|textrm|textit|textnormal|textsf|texttt|mathrm|mathbf|mathit|mathsf|mbox|operatorname|hbox';

// Words a unit suffix may not contain, because they are mathematics (3 pi, 2 sqrt 5, 4 i).
const MATH_WORDS = new Set([
  'pi',
  'sqrt',
  'sin',
  'cos',
  'tan',
  'cot',
  'sec',
  'csc',
  'log',
  'ln',
  'exp',
  'and',
  'or',
  'i',
  'e',
  'infinity',
  'inf',
]);

// Units that may be glued to a number ("18cm"); only multi-letter ones, since "5m" may be 5·m.
const GLUED_UNITS =
  /^(-?[\d.,]*\d)\s*(?:cm|mm|km|kg|mg|ml|ft|yd|lbs?|oz|mph|kph|hrs?|mins?|secs?|sq|cents?|usd|pct|percent|degrees?|deg|units?)(?:\^\{?[23]\}?|²|³)?$/i;

/** Removes `\cmd{...}` wrappers, keeping the braces' content (balanced). */
export function unwrapCommand(s: string, commands: string, replace: (inner: string) => string = (x) => x): string {
  const re = new RegExp(`\\\\(?:${commands})\\s*\\{`, 'g');
  let out = '';
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const open = m.index + m[0].length - 1;
    const close = matchingBrace(s, open);
    if (close < 0) break;
    out += s.slice(last, m.index) + replace(s.slice(open + 1, close));
    last = close + 1;
    re.lastIndex = close + 1;
  }
  return out + s.slice(last);
}

/** Index of the `}` matching the `{` at `open`, or −1. */
export function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Drops a trailing unit written as \text{ cm}^2, " dollars", "cm", so "15\mbox{ cm}^2" is 15. */
function stripUnits(s: string): string {
  // A trailing \text{...} of plain words after a value is a unit (Hendrycks `_remove_right_units`).
  const textUnit = new RegExp(
    `^(.*\\S)\\s*\\\\(?:${TEXT_COMMANDS})\\{\\s*([a-zA-Z][a-zA-Z .]*)\\}\\s*(?:\\^\\{?\\d\\}?)?$`,
  );
  const t = textUnit.exec(s);
  if (t && /[\d}]$|\\pi$/.test(t[1].trim())) s = t[1];
  const glued = GLUED_UNITS.exec(s.trim());
  if (glued) return glued[1];
  // A number followed by whole words ("18 dollars", "5 apples per day").
  const words = /^(.*[\d}])\s+([a-zA-Z]{2,}(?:[\s.]+[a-zA-Z]+)*)\.?$/.exec(s);
  if (
    words &&
    !words[2]
      .toLowerCase()
      .split(/[\s.]+/)
      .some((w) => MATH_WORDS.has(w))
  )
    s = words[1];
  return s;
}

/**
 * Normalises an extracted answer: unicode, delimiters, spacing macros, \left/\right, \dfrac, degrees,
 * percent, currency, text wrappers and units, trailing punctuation, thousands separators.
 * Keeps spaces (the parser ignores them); `compactAnswer` removes them for string comparison.
 */
export function normalizeAnswer(raw: string): string {
  let s = raw;
  for (const [re, rep] of UNICODE_REPLACEMENTS) s = s.replace(re, rep);
  s = s.trim();
  s = stripDelimiters(s);
  // An answer copied from a JSON or Python string may double its backslashes (\\frac); a matrix's \\ is a row break.
  if (!/matrix|array/.test(s)) s = s.replace(/\\\\(?=[a-zA-Z])/g, '\\');
  s = unwrapCommand(s, 'boxed|fbox');
  s = s.replace(
    /\\(?:displaystyle|textstyle|scriptstyle|left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])/g,
    '',
  );
  s = s.replace(/,\\!\s*/g, ','); // MATH writes thousands as 10,\!080
  // Spacing macros become spaces; a matrix row break \\ is matched first so it survives. "\quadx" is \quad x.
  s = s.replace(/\\\\|\\[,;:! ]|\\q?quad|~/g, (m) => (m === '\\\\' ? m : ' ')).replace(/\s+/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\\(?:lbrace|\{)/g, '\\{').replace(/\\(?:rbrace|\})/g, '\\}');
  s = normalizeRelations(s);
  s = s.replace(/\s*\{\s*,\s*\}/g, ','); // 14{,}916
  s = s.replace(/_\{(\w+)\}/g, '_$1'); // 4210_{5} = 4210_5
  // Degrees and percent do not change the number (MATH and GSM8K golds omit them).
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?/g, '').replace(/\\circ|\\degree/g, '');
  s = s.replace(/\\%|%/g, '');
  s = s.replace(/\\\$|\$/g, '');
  s = s.replace(/\.\s*$/, '').trim();
  // "1 and 2", "6 \text{ and } 8", "(11,7) or (7,11)": several answers (Math-Verify's and_or rule).
  s = s
    .replace(/,?\s*\\(?:text|mbox|textrm)\{\s*(?:and|or)\s*\}/g, ',')
    .replace(/(?<![a-zA-Z\\])(?:,?\s*(?:and|or))(?![a-zA-Z])/g, ',');
  if (s.length <= 1000) s = stripUnits(s); // unit patterns backtrack; real answers with units are short
  s = unwrapCommand(s, TEXT_COMMANDS);
  s = s.replace(/^(?:[a-zA-Z]\w*\s*)?\\in(?![a-zA-Z])\s*/, ''); // x \in [-2,7]
  s = dropApproximation(s);
  s = s.replace(/[.,;:\s]+$/, '').trim();
  s = joinThousands(s);
  return s;
}

/** One spelling per relation: \le, \ge, \ne, < and >. */
function normalizeRelations(s: string): string {
  return s
    .replace(/\\(?:leqslant|leq|le)(?![a-zA-Z])|<=/g, '\\le ')
    .replace(/\\(?:geqslant|geq|ge)(?![a-zA-Z])|>=/g, '\\ge ')
    .replace(/\\(?:neq|ne)(?![a-zA-Z])|!=/g, '\\ne ')
    .replace(/\\lt(?![a-zA-Z])/g, '<')
    .replace(/\\gt(?![a-zA-Z])/g, '>');
}

/** "x \approx 11" is 11; "1/3 \approx 0.33" is the exact 1/3 before the approximation. */
function dropApproximation(s: string): string {
  const parts = s.split(/\\approx(?![a-zA-Z])/);
  if (parts.length === 1) return s;
  const before = parts[0].trim();
  return before === '' || /^[a-zA-Z](?:_\w+)?$/.test(before) ? parts[1].trim() : before;
}

function stripDelimiters(s: string): string {
  for (;;) {
    const before = s;
    s = s.replace(/^\$\$([\s\S]*)\$\$$/, '$1').replace(/^\$([\s\S]*)\$$/, '$1');
    s = s.replace(/^\\\(([\s\S]*)\\\)$/, '$1').replace(/^\\\[([\s\S]*)\\\]$/, '$1');
    s = s.trim();
    if (s === before) return s;
  }
}

/** "1,234,567.5" and "1 234 567" are one number; "1, 2, 3" (with spaces) stays a list. */
export function joinThousands(s: string): string {
  if (/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) return s.replace(/,/g, '');
  if (/^[+-]?\d{1,3}( \d{3})+(\.\d+)?$/.test(s)) return s.replace(/ /g, '');
  return s;
}

/** The form used for plain string comparison: no whitespace. */
export function compactAnswer(s: string): string {
  return s.replace(/\s+/g, '');
}
