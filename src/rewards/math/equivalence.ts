/**
 * Are two answers the same mathematical object? Shape by shape (structure.ts), then per expression:
 * exact rational arithmetic first (2/4 = \frac{1}{2}; 1000001 ≠ 1000000), powers too large to write out by
 * exponent arithmetic (9^{9^9} = 9^{387420489}, exact-powers.ts), decimals after rounding both sides to
 * `floatPrecision` places (0.0833333 = \frac{1}{12}), otherwise the CAS check (symbolic.ts).
 * Follows Math-Verify's `verify` (grader.py): the gold decides whether "x = 3" is unwrapped, a gold
 * relation compares with a predicted interval, sets ignore order and repeats, and one deadline bounds
 * the whole call.
 */
import { parseMath } from './latex-parser.ts';
import {
  evaluateExactly,
  containsInfinity,
  infinitySign,
  toMathjs,
  variableNames,
  renameVariables,
  hasDecimal,
  type MathNode,
} from './math-node.ts';
import { normalizeAnswer, compactAnswer } from './normalize.ts';
import { parseAnswer, type Answer, type RelationOp } from './structure.ts';
import { compareSymbolically, prepareSymbolicWorker, type ComparisonMode } from './symbolic.ts';
import { Deadline, DeadlineExceeded } from './deadline.ts';
import { comparePowerSums, powerSumKey } from './exact-powers.ts';

export interface EquivalenceOptions {
  /** Decimal places both sides are rounded to when one is written as a decimal (Math-Verify `float_rounding`). Default 6. */
  floatPrecision?: number;
  /** Variables matter, so f(x) ≠ f(y) and x = 1 ≠ y = 1. false maps the prediction's variables onto the gold's in sorted order (Math-Verify `strict`). Default true. */
  strict?: boolean;
  /**
   * A predicted relation may answer a gold interval (gold [-2, 7], prediction -2 ≤ x ≤ 7). A gold relation
   * always compares with a predicted interval (Math-Verify `allow_set_relation_comp`). Default false.
   */
  allowSetRelationComp?: boolean;
  /** Budget in milliseconds for one whole grading call; an answer not decided by then counts as wrong. Default 5000. */
  timeoutMs?: number;
  /** Set false to use only string and exact-rational comparison (no CAS). Default true. */
  symbolic?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 5000;

interface Ctx {
  precision: number;
  strict: boolean;
  setRelation: boolean;
  symbolic: boolean;
  deadline: Deadline;
}

const CACHE_LIMIT = 20_000;
const verdictCache = new Map<string, boolean>();

function remember(key: string, value: boolean): boolean {
  if (verdictCache.size >= CACHE_LIMIT) verdictCache.delete(verdictCache.keys().next().value as string);
  verdictCache.set(key, value);
  return value;
}

function casEqual(a: MathNode, b: MathNode, mode: ComparisonMode, c: Ctx): boolean {
  if (!c.symbolic) return false;
  c.deadline.check();
  const left = toMathjs(a);
  const right = toMathjs(b);
  const tolerance = mode === 'rounded' ? c.precision : 10 ** -c.precision;
  const key = `${mode}\u0000${tolerance}\u0000${left}\u0000${right}`;
  const cached = verdictCache.get(key);
  if (cached !== undefined) return cached;
  const verdict = compareSymbolically(left, right, mode, tolerance, Math.max(1, c.deadline.remainingMs()));
  // A comparison stopped at the deadline ends the call; timeouts are not cached (a less loaded machine may finish).
  if (verdict === 'timeout') {
    c.deadline.check();
    return false;
  }
  return remember(key, verdict === 'equal');
}

/** Under strict: false, the prediction's variables renamed to the gold's (both sorted) when they are as many. */
function alignVariables(gold: MathNode[], pred: MathNode[], c: Ctx): MathNode[] {
  if (c.strict) return pred;
  const g = [...new Set(gold.flatMap(variableNames))].sort();
  const p = [...new Set(pred.flatMap(variableNames))].sort();
  if (g.length !== p.length) return pred;
  const names = new Map(p.map((name, i) => [name, g[i]]));
  return pred.map((n) => renameVariables(n, names));
}

function parsedAll(texts: string[]): MathNode[] | null {
  const nodes = texts.map(parseMath);
  return nodes.every((n) => n !== null) ? (nodes as MathNode[]) : null;
}

function expressionsEqual(gold: string, pred: string, c: Ctx): boolean {
  if (compactAnswer(gold) === compactAnswer(pred)) return true;
  const nodes = parsedAll([gold, pred]);
  if (!nodes) return false;
  const g = nodes[0];
  const [p] = alignVariables([g], [nodes[1]], c);
  if (containsInfinity(g) || containsInfinity(p)) {
    const sign = infinitySign(g);
    return sign !== 0 && sign === infinitySign(p);
  }
  const decimal = hasDecimal(g) || hasDecimal(p);
  const rg = evaluateExactly(g);
  const rp = evaluateExactly(p);
  // Two written decimals are compared exactly (.0000673 ≠ .0000672); a decimal against a fraction after rounding.
  if (rg && rp)
    return (
      rg.equals(rp) || (hasDecimal(g) !== hasDecimal(p) && rg.scaledRound(c.precision) === rp.scaledRound(c.precision))
    );
  const constant = variableNames(g).length === 0 && variableNames(p).length === 0;
  if (constant && !decimal) {
    const verdict = comparePowerSums(g, p, c.deadline);
    if (verdict !== null) return verdict === 'equal';
  }
  if (decimal && constant) return casEqual(g, p, 'rounded', c);
  return casEqual(g, p, 'equal', c);
}

/** L1 − R1 against L2 − R2: proportional for equations, positively proportional for inequalities. */
function differencesMatch(gold: [string, string], pred: [string, string], mode: ComparisonMode, c: Ctx): boolean {
  const g = parsedAll(gold);
  const p0 = parsedAll(pred);
  if (!g || !p0) return false;
  const p = alignVariables(g, p0, c);
  return casEqual(
    { kind: 'bin', op: '-', left: g[0], right: g[1] },
    { kind: 'bin', op: '-', left: p[0], right: p[1] },
    mode,
    c,
  );
}

type EquationAnswer = Extract<Answer, { kind: 'equation' }>;
type RelationAnswer = Extract<Answer, { kind: 'relation' }>;

function equationsEqual(g: EquationAnswer, p: EquationAnswer, c: Ctx): boolean {
  // x = 1 and x = 1.0 compare their values; x = 1 and y = 1 only when strict is off.
  if (g.assignment && p.assignment && (compactAnswer(g.lhs) === compactAnswer(p.lhs) || !c.strict)) {
    return shapesEqual(parseAnswer(g.rhs), parseAnswer(p.rhs), c);
  }
  // Otherwise the same solution set: L1 − R1 = k·(L2 − R2) for a constant k ≠ 0.
  return differencesMatch([g.lhs, g.rhs], [p.lhs, p.rhs], 'proportional', c);
}

const FLIPPED: Record<RelationOp, RelationOp> = { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le', '\\ne': '\\ne' };

/** a op b as (left, right, op) with op one of <, \le, \ne (a > b is b < a). */
function oriented(a: string, op: RelationOp, b: string): [string, string, RelationOp] {
  return op === '>' || op === '\\ge' ? [b, a, FLIPPED[op]] : [a, b, op];
}

function relationsMatch(g: RelationAnswer, p: RelationAnswer, c: Ctx): boolean {
  if (g.ops.length !== p.ops.length) return false;
  return g.ops.every((op, i) => {
    const [gl, gr, gop] = oriented(g.parts[i], op, g.parts[i + 1]);
    const [pl, pr, pop] = oriented(p.parts[i], p.ops[i], p.parts[i + 1]);
    return gop === pop && differencesMatch([gl, gr], [pl, pr], gop === '\\ne' ? 'proportional' : 'positive', c);
  });
}

function relationsEqual(g: RelationAnswer, p: RelationAnswer, c: Ctx): boolean {
  if (relationsMatch(g, p, c)) return true;
  // 7 \ge x \ge -2 is -2 \le x \le 7 read backwards.
  const reversed: RelationAnswer = {
    kind: 'relation',
    parts: [...p.parts].reverse(),
    ops: [...p.ops].reverse().map((op) => FLIPPED[op]),
  };
  return p.ops.length > 1 && relationsMatch(g, reversed, c);
}

const expr = (text: string): Answer => ({ kind: 'expr', text });
const interval = (open: '(' | '[', low: string, high: string, close: ')' | ']'): Answer => ({
  kind: 'tuple',
  open,
  close,
  items: [expr(low), expr(high)],
});

/** A variable or a function of one: x, a, f(x), |z| is not one (its set is not an interval). */
function isUnknown(s: string): boolean {
  return /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\w+)?(?:\([a-zA-Z]\))?$/.test(s.replace(/\s+/g, ''));
}

/** The interval a relation in one unknown describes: x > 5 is (5, ∞), -2 \le x < 7 is [-2, 7). Null otherwise. */
function relationAsSet(r: RelationAnswer): Answer | null {
  if (r.ops.length === 1) {
    const [a, b] = r.parts;
    const [value, op] = isUnknown(a) ? [b, r.ops[0]] : isUnknown(b) ? [a, FLIPPED[r.ops[0]]] : [null, r.ops[0]];
    if (value === null) return null;
    switch (op) {
      case '<':
        return interval('(', '-\\infty', value, ')');
      case '\\le':
        return interval('(', '-\\infty', value, ']');
      case '>':
        return interval('(', value, '\\infty', ')');
      case '\\ge':
        return interval('[', value, '\\infty', ')');
      case '\\ne':
        return { kind: 'union', items: [interval('(', '-\\infty', value, ')'), interval('(', value, '\\infty', ')')] };
    }
  }
  if (r.ops.length === 2 && isUnknown(r.parts[1])) {
    const increasing = r.ops.every((op) => op === '<' || op === '\\le');
    const decreasing = r.ops.every((op) => op === '>' || op === '\\ge');
    if (!increasing && !decreasing) return null;
    const [low, high] = increasing ? [r.parts[0], r.parts[2]] : [r.parts[2], r.parts[0]];
    const [lowOp, highOp] = increasing ? r.ops : [r.ops[1], r.ops[0]];
    return interval(
      lowOp === '<' || lowOp === '>' ? '(' : '[',
      low,
      high,
      highOp === '<' || highOp === '>' ? ')' : ']',
    );
  }
  return null;
}

const isSetLike = (x: Answer) => x.kind === 'tuple' || x.kind === 'union' || x.kind === 'set';

function textKey(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function orderedEqual(gold: Answer[], pred: Answer[], c: Ctx): boolean {
  return gold.length === pred.length && gold.every((x, i) => shapesEqual(x, pred[i], c));
}

/** Exact value of a plain numeric item (9^{9^9} + 1 too), so large sets of numbers match by lookup instead of pair by pair. */
function exactKey(x: Answer, c: Ctx): string | null {
  c.deadline.check();
  if (x.kind !== 'expr') return null;
  const node = parseMath(x.text);
  if (!node) return null;
  const value = evaluateExactly(node);
  return value ? value.toString() : hasDecimal(node) ? null : powerSumKey(node, c.deadline);
}

/** Every item of `items` equals some item of `others` (`goldFirst` keeps the gold/prediction roles). */
function coveredBy(items: Answer[], others: Answer[], goldFirst: boolean, c: Ctx): boolean {
  const keys = new Set(others.map((y) => exactKey(y, c)).filter((k) => k !== null));
  return items.every((x) => {
    c.deadline.check();
    const key = exactKey(x, c);
    if (key !== null && keys.has(key)) return true;
    return others.some((y) => (goldFirst ? shapesEqual(x, y, c) : shapesEqual(y, x, c)));
  });
}

/** Set equality: order and repeats do not matter (Math-Verify compares sympy FiniteSets). */
function setsEqual(gold: Answer[], pred: Answer[], c: Ctx): boolean {
  if ((gold.length === 0) !== (pred.length === 0)) return false;
  return coveredBy(gold, pred, true, c) && coveredBy(pred, gold, false, c);
}

function vectorItems(x: Answer): Answer[] | null {
  if (x.kind === 'matrix') {
    if (x.rows.length === 1) return x.rows[0];
    if (x.rows.every((r) => r.length === 1)) return x.rows.map((r) => r[0]);
    return null;
  }
  if (x.kind === 'list' || (x.kind === 'tuple' && x.open === '(' && x.close === ')')) return x.items;
  return null;
}

function shapesEqual(g: Answer, p: Answer, c: Ctx): boolean {
  c.deadline.check();
  if (g.kind === 'expr' && p.kind === 'expr') return expressionsEqual(g.text, p.text, c);
  if (g.kind === 'choice' && p.kind === 'choice') return g.letter === p.letter;
  if ((g.kind === 'text' || g.kind === 'expr') && (p.kind === 'text' || p.kind === 'expr'))
    return textKey(g.text) === textKey(p.text);
  if (g.kind === 'equation' && p.kind === 'equation') return equationsEqual(g, p, c);
  // The gold decides (Math-Verify): a predicted "2x + z = 1" answers "1" by its value, and a gold
  // "x = 1" is answered by "1"; a gold equation that is not an assignment needs an equation.
  if (p.kind === 'equation') return shapesEqual(g, parseAnswer(p.rhs), c);
  if (g.kind === 'equation') return g.assignment && shapesEqual(parseAnswer(g.rhs), p, c);
  if (g.kind === 'relation' && p.kind === 'relation') return relationsEqual(g, p, c);
  if (g.kind === 'relation' || p.kind === 'relation') {
    const goldSet = g.kind === 'relation' && isSetLike(p) ? relationAsSet(g) : null;
    if (goldSet) return shapesEqual(goldSet, p, c);
    const predSet = p.kind === 'relation' && c.setRelation && isSetLike(g) ? relationAsSet(p) : null;
    return predSet !== null && shapesEqual(g, predSet, c);
  }
  if (g.kind === 'tuple' && p.kind === 'tuple')
    return g.open === p.open && g.close === p.close && orderedEqual(g.items, p.items, c);
  const collection = (x: Answer) => x.kind === 'set' || x.kind === 'list';
  if (collection(g) && collection(p))
    return setsEqual((g as { items: Answer[] }).items, (p as { items: Answer[] }).items, c);
  if (g.kind === 'union' && p.kind === 'union') return setsEqual(g.items, p.items, c);
  if (g.kind === 'matrix' && p.kind === 'matrix') {
    return g.rows.length === p.rows.length && g.rows.every((row, i) => orderedEqual(row, p.rows[i], c));
  }
  // A column vector may be written as a tuple, and "1, 2" may answer "(1, 2)".
  if (g.kind === 'matrix' || p.kind === 'matrix' || (g.kind === 'tuple') !== (p.kind === 'tuple')) {
    const vg = vectorItems(g);
    const vp = vectorItems(p);
    if (vg && vp && (g.kind !== 'list' || p.kind !== 'list')) return orderedEqual(vg, vp, c);
  }
  // A single value answers a set of equal values: 3 and \{3\}, \frac{639}{40} and "15\frac{39}{40}, \frac{639}{40}".
  if (collection(g) !== collection(p)) {
    return collection(g)
      ? setsEqual((g as { items: Answer[] }).items, [p], c)
      : setsEqual([g], (p as { items: Answer[] }).items, c);
  }
  return false;
}

/** Starts the CAS worker (when it will be used) before a call's deadline starts. */
export function prepareGrading(opts: EquivalenceOptions): void {
  if (opts.symbolic ?? true) prepareSymbolicWorker();
}

function resolve(opts: EquivalenceOptions, deadline?: Deadline): Ctx {
  if (!deadline) prepareGrading(opts);
  return {
    precision: opts.floatPrecision ?? 6,
    strict: opts.strict ?? true,
    setRelation: opts.allowSetRelationComp ?? false,
    symbolic: opts.symbolic ?? true,
    deadline: deadline ?? new Deadline(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  };
}

/**
 * True when two already-extracted answers denote the same value (e.g. "\frac{1}{2}" and "0.5").
 * Not symmetric in general, as Math-Verify's verify: `gold` decides how an equation or relation is read.
 * `deadline` lets a caller share one budget with extraction (gradeMath); otherwise opts.timeoutMs applies.
 */
export function answersEquivalent(
  predicted: string,
  gold: string,
  opts: EquivalenceOptions = {},
  deadline?: Deadline,
): boolean {
  const c = resolve(opts, deadline);
  try {
    const p = normalizeAnswer(predicted);
    const g = normalizeAnswer(gold);
    if (p === '' || g === '') return false;
    if (compactAnswer(p) === compactAnswer(g)) return true;
    return shapesEqual(parseAnswer(g), parseAnswer(p), c);
  } catch (e) {
    if (e instanceof DeadlineExceeded || e instanceof RangeError) return false; // RangeError: stack exhausted
    throw e;
  }
}
