/**
 * Splits a normalised answer into its shape — tuple, interval, set, list, union, matrix, equation,
 * relation (x \ge 5, -2 \le x \le 7), ± pair, text, multiple-choice letter or single expression — so each
 * shape compares by its own rule.
 */

export type Answer =
  | { kind: 'expr'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'choice'; letter: string }
  | { kind: 'tuple'; open: '(' | '['; close: ')' | ']'; items: Answer[] }
  | { kind: 'set'; items: Answer[]; plusMinus?: true }
  | { kind: 'list'; items: Answer[] }
  | { kind: 'union'; items: Answer[] }
  | { kind: 'matrix'; rows: Answer[][] }
  /** `assignment`: the left side only names the answer (x, f(x), (p,q), AB, V_1:V_2), as Math-Verify's is_assignment_relation. */
  | { kind: 'equation'; lhs: string; rhs: string; assignment: boolean }
  /** parts[0] ops[0] parts[1] ops[1] parts[2] …, e.g. -2 \le x < 7. */
  | { kind: 'relation'; parts: string[]; ops: RelationOp[] };

export type RelationOp = '<' | '>' | '\\le' | '\\ge' | '\\ne';

/** Nesting beyond this is compared as text (keeps recursion bounded on hostile input). */
const MAX_DEPTH = 40;

const FUNCTION_WORDS =
  /sqrt|arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|log|ln|exp|pi|infty|infinity|inf|abs|floor|ceil/g;

/**
 * Splits `s` at top-level occurrences of `sep` (outside (), [], {}, \{ \}). Brackets are counted
 * without matching their type, so half-open intervals like (3,4] nest correctly.
 */
export function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      if (s[i + 1] === '{') depth++;
      else if (s[i + 1] === '}') depth--;
      else if (
        depth === 0 &&
        s.startsWith(sep, i) &&
        sep.startsWith('\\') &&
        !/[a-zA-Z]/.test(s[i + sep.length] ?? '')
      ) {
        parts.push(s.slice(start, i));
        start = i + sep.length;
        i += sep.length - 1;
        continue;
      }
      i++;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      parts.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

/** True when the bracket at 0 closes exactly at the end: "(1,2)" yes, "(a+5)(b+2)" no. */
function enclosedByOuterBrackets(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth === 0) return i === s.length - 1;
  }
  return false;
}

/**
 * A left-hand side that names the answer rather than constraining it: x, k, a_1, \\theta, f(x), (p,q),
 * AB, |AB|, A:B, V_1:V_2, \\frac{NO}{BO} — symbols only, no numbers or arithmetic (Math-Verify's
 * is_expr_of_only_symbols).
 */
function isAssignmentTarget(lhs: string): boolean {
  const t = lhs
    .replace(/\s+/g, '')
    .replace(/_\{?\w+\}?/g, '')
    .replace(/\\(?:sin|cos|tan|log|ln|exp|sqrt)(?![a-zA-Z])/g, '+')
    .replace(/\\[a-zA-Z]+/g, 'x');
  return /[a-zA-Z]/.test(t) && /^[a-zA-Z(){}|:,']+$/.test(t);
}

function leaf(s: string): Answer {
  const choice = /^\(([A-Ea-e])\)$|^([A-E])\)?$/.exec(s.replace(/\s+/g, ''));
  if (choice) return { kind: 'choice', letter: (choice[1] ?? choice[2]).toUpperCase() };
  // Mixed numbers: 137 \frac{1}{2} is 137.5 (MATH convention), not 137 × 1/2.
  const mixed = /^(-?)(\d+)\s*\\frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d))$/.exec(s);
  if (mixed) {
    const [, sign, whole, n1, n2, d1, d2] = mixed;
    return { kind: 'expr', text: `${sign}(${whole} + \\frac{${n1 ?? n2}}{${d1 ?? d2}})` };
  }
  // Words of 3+ letters that are not function names are prose ("Evelyn", "even", "east").
  const letters = s.replace(/\\[a-zA-Z]+/g, ' ').replace(FUNCTION_WORDS, ' ');
  if (/[a-zA-Z]{3,}/.test(letters)) return { kind: 'text', text: s };
  return { kind: 'expr', text: s };
}

/** Items of a set or list; "1 \\pm \\sqrt5" inside one contributes both of its values. */
function collectionItems(parts: string[], depth: number): Answer[] {
  return parts.map((p) => parseAnswer(p, depth + 1)).flatMap((a) => (a.kind === 'set' && a.plusMinus ? a.items : [a]));
}

const RELATION = /^(?:<|>|\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z]))/;

/** Splits at top-level <, >, \\le, \\ge, \\ne; ops.length === parts.length − 1. */
function splitRelations(s: string): { parts: string[]; ops: RelationOp[] } {
  const parts: string[] = [];
  const ops: RelationOp[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    if (depth !== 0) {
      if (c === '\\') i++;
      continue;
    }
    const m = RELATION.exec(s.slice(i, i + 3));
    if (m) {
      parts.push(s.slice(start, i).trim());
      ops.push(m[0] as RelationOp);
      start = i + m[0].length;
      i = start - 1;
    } else if (c === '\\') {
      i++;
    }
  }
  parts.push(s.slice(start).trim());
  return { parts, ops };
}

/** Bracketed items: "(1, 2)" or, where no comma separates them, "(0; -2; 6)". */
function bracketItems(inner: string): string[] {
  const items = splitTopLevel(inner, ',');
  return items.length >= 2 ? items : splitTopLevel(inner, ';');
}

/** "p=5, q=2" as one solution: the tuple (5, 2). */
function assignmentsAsTuple(a: Answer): Answer {
  if (a.kind !== 'list' || !a.items.every((x) => x.kind === 'equation' && x.assignment)) return a;
  return { kind: 'tuple', open: '(', close: ')', items: a.items.map((x) => parseAnswer((x as { rhs: string }).rhs)) };
}

/** A matrix, also inside brackets: \\left[\\begin{array}{cc}…\\end{array}\\right] (\\left, \\right already gone). */
function matrixAnswer(s: string, depth: number): Answer | null {
  const matrix = /^[([]?\s*\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}\s*[)\]]?$/.exec(s);
  if (!matrix || /^[([]/.test(s) !== /[)\]]$/.test(s)) return null;
  const rows = matrix[2]
    .split(/\\\\/)
    .map((row) => row.trim())
    .filter((row) => row.length > 0)
    .map((row) => row.split('&').map((cell) => parseAnswer(cell, depth + 1)));
  return { kind: 'matrix', rows };
}

/** \\{…\\}, \\emptyset or \\varnothing. */
function setAnswer(s: string, depth: number): Answer | null {
  if (/^\\(?:emptyset|varnothing)$/.test(s) || s === '\\{\\}') return { kind: 'set', items: [] };
  if (!s.startsWith('\\{') || !s.endsWith('\\}')) return null;
  const inner = s.slice(2, -2).trim();
  return { kind: 'set', items: inner === '' ? [] : collectionItems(splitTopLevel(inner, ','), depth) };
}

/** (1, 2) or [0, 1) as a tuple or interval; {1, 3} without backslashes, as models often write a set, as a list. */
function bracketedAnswer(s: string, depth: number): Answer | null {
  if (!/^[([{]/.test(s) || !/[)\]}]$/.test(s) || !enclosedByOuterBrackets(s)) return null;
  const items = bracketItems(s.slice(1, -1));
  if (items.length < 2) return null;
  const open = s[0];
  const close = s[s.length - 1];
  if (open === '{' && close === '}') return { kind: 'list', items: collectionItems(items, depth) };
  if (open === '{' || close === '}') return null;
  return {
    kind: 'tuple',
    open: open as '(' | '[',
    close: close as ')' | ']',
    items: items.map((item) => parseAnswer(item, depth + 1)),
  };
}

/** lhs = rhs; "x = 5+5+1 = 11" assigns the last value, and "1 = y = 0" (no assignment) is read for its last value. */
function equationAnswer(s: string, depth: number): Answer | null {
  const sides = splitTopLevel(s, '=');
  if (sides.length < 2) return null;
  const last = sides[sides.length - 1];
  if (sides.every((x) => x !== '')) {
    const assignment = isAssignmentTarget(sides[0]);
    if (sides.length === 2 || assignment) return { kind: 'equation', lhs: sides[0], rhs: last, assignment };
  }
  return last !== '' ? parseAnswer(last, depth + 1) : null;
}

/** a \\pm b as the set {a + b, a − b} (and \\mp the other way round), when only one of the two signs occurs. */
function plusMinusAnswer(s: string): Answer | null {
  for (const [sign, other] of [
    ['\\pm', '\\mp'],
    ['\\mp', '\\pm'],
  ] as const) {
    const pm = splitTopLevel(s, sign);
    if (pm.length === 2 && splitTopLevel(s, other).length === 1) {
      const [head, tail] = pm;
      const plus = sign === '\\pm' ? '+' : '-';
      const minus = sign === '\\pm' ? '-' : '+';
      return {
        kind: 'set',
        plusMinus: true,
        items: [leaf(`${head} ${plus} ${tail}`), leaf(`${head} ${minus} ${tail}`)],
      };
    }
  }
  return null;
}

export function parseAnswer(input: string, depth = 0): Answer {
  const s = input.trim();
  if (depth > MAX_DEPTH) return { kind: 'text', text: s };
  const parse = (part: string) => parseAnswer(part, depth + 1);
  const unionParts = splitTopLevel(s, '\\cup');
  if (unionParts.length > 1) return { kind: 'union', items: unionParts.map(parse) };
  const shaped = matrixAnswer(s, depth) ?? setAnswer(s, depth);
  if (shaped) return shaped;

  // "-12; -11; -10" lists answers; "p=5, q=2; p=7, q=2" lists solutions of several unknowns.
  const solutions = splitTopLevel(s, ';');
  if (solutions.length >= 2 && solutions.every((x) => x.length > 0)) {
    return { kind: 'list', items: solutions.map((x) => assignmentsAsTuple(parse(x))) };
  }
  const bracketed = bracketedAnswer(s, depth);
  if (bracketed) return bracketed;

  const listItems = splitTopLevel(s, ',');
  if (listItems.length >= 2 && listItems.every((x) => x.length > 0))
    return { kind: 'list', items: collectionItems(listItems, depth) };

  const relation = splitRelations(s);
  if (relation.ops.length > 0 && relation.parts.every((p) => p !== '')) return { kind: 'relation', ...relation };
  return equationAnswer(s, depth) ?? plusMinusAnswer(s) ?? leaf(s);
}
