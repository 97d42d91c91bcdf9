'use strict';
// Decides whether two expressions (mathjs syntax, produced by math-node.ts `toMathjs`) are equal.
// Plain JavaScript (CommonJS) so that it loads inside a worker thread without a TypeScript loader, and
// synchronously in the main thread as a fallback. Method: probabilistic identity testing — evaluate
// both sides with mathjs (complex-aware) at fixed pseudo-random points; polynomial and rational
// identities that differ disagree at almost every point (Schwartz–Zippel), so agreement at all of
// several points means equal. mathjs `simplify` is tried only when no point could be evaluated.
// Every step is bounded: inputs whose exact constants are astronomically large are refused up front (see
// `constantCost`), so the worker answers in milliseconds and is terminated only as a last resort.
const { create, all } = require('mathjs');

const math = create(all, { number: 'number' });
const CONSTANTS = new Set(['pi', 'e', 'i', 'Infinity']);
const POINTS_WITH_VARIABLES = 8;
const MIN_VALID_POINTS = 3;
/** simplify folds constant powers into exact fractions: 9^387420489 alone took 52 s (fraction.js pow). */
const MAX_FOLDED_EXPONENT = 4096;
const MAX_FOLDED_BITS = 1 << 20;
/** mathjs computes a binomial with a loop over its smaller side: C(10^9, 5·10^8) took 25 s. */
const MAX_BINOMIAL_STEPS = 100_000;

function freeSymbols(node) {
  const names = new Set();
  node.traverse((n, _path, parent) => {
    if (n.isSymbolNode && !CONSTANTS.has(n.name) && !(parent?.isFunctionNode && parent.fn === n)) {
      names.add(n.name);
    }
  });
  return names;
}

/**
 * What an expression's constant parts cost: 'refuse' when evaluating it at all would run unbounded (a huge
 * binomial), 'noSimplify' when only simplify's exact constant folding would (a huge power), else 'ok'.
 */
function constantCost(root) {
  let cost = 'ok';
  // Returns the real value of a constant subtree, NaN for a constant that is not a finite real, null for non-constants.
  const visit = (node) => {
    if (node.isParenthesisNode) return visit(node.content);
    if (node.isConstantNode) return typeof node.value === 'number' ? node.value : Number(node.value);
    if (node.isSymbolNode)
      return node.name === 'pi' ? Math.PI : node.name === 'e' ? Math.E : CONSTANTS.has(node.name) ? NaN : null;
    if (!node.isOperatorNode && !node.isFunctionNode) return null;
    const values = node.args.map(visit);
    if (values.some((v) => v === null)) return null;
    const name = node.isOperatorNode ? node.fn : node.fn.name;
    if (name === 'combinations' && !(Math.min(values[1], values[0] - values[1]) <= MAX_BINOMIAL_STEPS)) cost = 'refuse';
    if (name === 'pow' && cost === 'ok') {
      const [b, e] = values;
      const trivial = b === 0 || b === 1 || b === -1;
      const bitsPerUnit = Math.abs(Math.log2(Math.abs(b))) + (Number.isInteger(b) ? 1 : 64);
      if (!trivial && !(Math.abs(e) <= MAX_FOLDED_EXPONENT && Math.abs(e) * bitsPerUnit <= MAX_FOLDED_BITS))
        cost = 'noSimplify';
    }
    if (typeof math[name] !== 'function' || cost === 'refuse') return NaN;
    try {
      const v = math[name](...values);
      return typeof v === 'number' ? v : NaN;
    } catch {
      return NaN;
    }
  };
  visit(root);
  return cost;
}

function asComplex(v) {
  if (typeof v === 'number') return { re: v, im: 0 };
  if (v?.isComplex) return { re: v.re, im: v.im };
  if (v && (v.isFraction || v.isBigNumber)) return { re: Number(v.valueOf()), im: 0 };
  return null;
}

function finite(z) {
  return Number.isFinite(z.re) && Number.isFinite(z.im);
}

function close(a, b, relTol) {
  const diff = Math.hypot(a.re - b.re, a.im - b.im);
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return diff <= relTol * scale || diff <= 1e-12;
}

function divide(a, b) {
  const d = b.re * b.re + b.im * b.im;
  return { re: (a.re * b.re + a.im * b.im) / d, im: (a.im * b.re - a.re * b.im) / d };
}

// Fixed, irrational-looking positive points: positive so that sqrt/log identities on their usual
// domain hold, and deterministic so a grade never depends on chance.
function samplePoint(pointIndex, variableIndex) {
  const x = Math.sin(12.9898 * (pointIndex + 1) + 78.233 * (variableIndex + 1)) * 43758.5453;
  return 0.3 + 2.7 * (x - Math.floor(x));
}

function roundTo(x, places) {
  const scale = 10 ** places;
  return Math.round(x * scale) / scale;
}

/**
 * mode 'equal': a == b within relative tolerance `tol`. 'proportional': a == c·b for one constant c != 0
 * (equations a=0, b=0); 'positive': the same with c > 0 (inequalities a<0, b<0). 'rounded': a and b are
 * constants equal once rounded to `tol` decimal places (Math-Verify's float_rounding).
 * Returns 'equal' | 'different' | 'unknown'.
 */
function compareExpressions(a, b, mode, tol) {
  const relTol = mode === 'rounded' ? 1e-12 : tol;
  let nodeA;
  let nodeB;
  try {
    nodeA = math.parse(a);
    nodeB = math.parse(b);
  } catch {
    return 'unknown';
  }
  const cost = [constantCost(nodeA), constantCost(nodeB)];
  if (cost.includes('refuse')) return 'unknown';
  const variables = [...new Set([...freeSymbols(nodeA), ...freeSymbols(nodeB)])].sort();
  const fa = nodeA.compile();
  const fb = nodeB.compile();
  const points = variables.length === 0 ? 1 : POINTS_WITH_VARIABLES;
  let valid = 0;
  let ratio = null;
  for (let k = 0; k < points; k++) {
    const scope = {};
    variables.forEach((name, j) => {
      scope[name] = samplePoint(k, j);
    });
    let va;
    let vb;
    try {
      va = asComplex(fa.evaluate(scope));
      vb = asComplex(fb.evaluate(scope));
    } catch {
      continue;
    }
    if (!va || !vb || !finite(va) || !finite(vb)) continue;
    if (mode === 'rounded') {
      if (variables.length > 0 || Math.abs(va.im) > 1e-12 || Math.abs(vb.im) > 1e-12) return 'unknown';
      return roundTo(va.re, tol) === roundTo(vb.re, tol) ? 'equal' : 'different';
    }
    if (mode === 'proportional' || mode === 'positive') {
      const zeroA = Math.hypot(va.re, va.im) <= 1e-12;
      const zeroB = Math.hypot(vb.re, vb.im) <= 1e-12;
      if (zeroA && zeroB) continue;
      if (zeroA !== zeroB) return 'different';
      const r = divide(va, vb);
      if (ratio === null) {
        ratio = r;
        if (mode === 'positive' && !(r.re > 0 && Math.abs(r.im) <= 1e-12 * Math.abs(r.re))) return 'different';
      } else if (!close(r, ratio, relTol)) return 'different';
    } else if (!close(va, vb, relTol)) {
      return 'different';
    }
    valid++;
  }
  if (valid >= Math.min(points, MIN_VALID_POINTS)) return 'equal';
  if (mode === 'equal' && !cost.includes('noSimplify')) {
    try {
      if (math.simplify(`(${a}) - (${b})`).toString() === '0') return 'equal';
    } catch {
      // simplify cannot handle it either: undecided
    }
  }
  return 'unknown';
}

module.exports = { compareExpressions };
