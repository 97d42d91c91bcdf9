/**
 * A small parser for the LaTeX (or plain-text) math that answers are written in: numbers, variables,
 * + − × ÷ ^, implicit multiplication, \frac, \sqrt, functions, π, e, i, ∞, |x|, n!.
 * It produces a tiny AST that can be evaluated exactly (rational.ts) or serialised for mathjs.
 * Anything it does not understand makes it return null, and the grader falls back to string comparison.
 */
import { Rational } from './rational.ts';

export type MathNode =
  | { kind: 'num'; text: string }
  | { kind: 'sym'; name: string }
  | { kind: 'const'; name: 'pi' | 'e' | 'i' | 'inf' }
  | { kind: 'neg'; arg: MathNode }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '^'; left: MathNode; right: MathNode }
  | { kind: 'call'; fn: string; args: MathNode[] };

type Token = { t: 'num'; v: string } | { t: 'word'; v: string } | { t: 'cmd'; v: string } | { t: 'op'; v: string };

// Names a model may write without a backslash; matched greedily inside letter runs ("sinx" = sin x).
const FUNCTION_NAMES: Record<string, string> = {
  sqrt: 'sqrt',
  sin: 'sin',
  cos: 'cos',
  tan: 'tan',
  cot: 'cot',
  sec: 'sec',
  csc: 'csc',
  arcsin: 'asin',
  arccos: 'acos',
  arctan: 'atan',
  sinh: 'sinh',
  cosh: 'cosh',
  tanh: 'tanh',
  ln: 'log',
  log: 'log',
  exp: 'exp',
  abs: 'abs',
  floor: 'floor',
  ceil: 'ceil',
};
const WORD_CONSTANTS: Record<string, 'pi' | 'inf'> = { pi: 'pi', infty: 'inf', infinity: 'inf', inf: 'inf' };
const KNOWN_WORDS = [...Object.keys(FUNCTION_NAMES), ...Object.keys(WORD_CONSTANTS)].sort(
  (a, b) => b.length - a.length,
);

const GREEK = new Set([
  'alpha',
  'beta',
  'gamma',
  'delta',
  'epsilon',
  'varepsilon',
  'zeta',
  'eta',
  'theta',
  'vartheta',
  'iota',
  'kappa',
  'lambda',
  'mu',
  'nu',
  'xi',
  'rho',
  'sigma',
  'tau',
  'upsilon',
  'phi',
  'varphi',
  'chi',
  'psi',
  'omega',
  'Gamma',
  'Delta',
  'Theta',
  'Lambda',
  'Xi',
  'Sigma',
  'Phi',
  'Psi',
  'Omega',
]);

/** Longest input the parser accepts; longer answers are compared as strings (keeps every check bounded). */
export const MAX_EXPRESSION_CHARS = 1000;

function tokenize(src: string): Token[] | null {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(\d+\.?\d*|\.\d+)/.exec(src.slice(i));
      if (!m) return null;
      out.push({ t: 'num', v: m[1] });
      i += m[1].length;
    } else if (c === '\\') {
      const m = /^\\([a-zA-Z]+|.)/.exec(src.slice(i));
      if (!m) return null;
      out.push({ t: 'cmd', v: m[1] });
      i += m[0].length;
    } else if (/[a-zA-Z]/.test(c)) {
      const run = /^[a-zA-Z]+/.exec(src.slice(i))![0];
      let j = 0;
      while (j < run.length) {
        const word = KNOWN_WORDS.find((w) => run.startsWith(w, j));
        const piece = word ?? run[j];
        out.push({ t: 'word', v: piece });
        j += piece.length;
      }
      i += run.length;
    } else if ('+-*/^_!()[]{}|,='.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
    } else {
      return null;
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parseAll(): MathNode {
    const node = this.expr();
    if (this.pos !== this.tokens.length) throw new ParseFailure();
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'op' && t.v === v;
  }
  private isCmd(...names: string[]): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'cmd' && names.includes(t.v);
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw new ParseFailure();
    this.pos++;
  }

  private expr(): MathNode {
    let left = this.term();
    for (;;) {
      if (this.isOp('+') || this.isOp('-')) {
        const op = (this.tokens[this.pos++] as { v: '+' | '-' }).v;
        left = { kind: 'bin', op, left, right: this.term() };
      } else return left;
    }
  }

  private term(): MathNode {
    let left = this.unary();
    for (;;) {
      if (this.isOp('*') || this.isCmd('cdot', 'times', 'ast')) {
        this.pos++;
        left = { kind: 'bin', op: '*', left, right: this.unary() };
      } else if (this.isOp('/') || this.isCmd('div')) {
        this.pos++;
        left = { kind: 'bin', op: '/', left, right: this.unary() };
      } else if (this.startsImplicitFactor()) {
        left = { kind: 'bin', op: '*', left, right: this.power() };
      } else return left;
    }
  }

  private startsImplicitFactor(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.t === 'num' || t.t === 'word') return true;
    if (t.t === 'op') return t.v === '(' || t.v === '{';
    return !['cdot', 'times', 'ast', 'div', 'right', 'rfloor', 'rceil', 'pm', 'mp'].includes(t.v) && t.v !== '}';
  }

  private unary(): MathNode {
    if (this.isOp('-')) {
      this.pos++;
      return { kind: 'neg', arg: this.unary() };
    }
    if (this.isOp('+')) {
      this.pos++;
      return this.unary();
    }
    return this.power();
  }

  private power(): MathNode {
    const base = this.postfix();
    if (this.isOp('^')) {
      this.pos++;
      const exponent = this.isOp('{') ? this.group('{', '}') : this.unary();
      return { kind: 'bin', op: '^', left: base, right: exponent };
    }
    return base;
  }

  private postfix(): MathNode {
    let node = this.primary();
    while (this.isOp('!')) {
      this.pos++;
      node = { kind: 'call', fn: 'factorial', args: [node] };
    }
    return node;
  }

  private group(open: string, close: string): MathNode {
    this.expectOp(open);
    const inner = this.expr();
    this.expectOp(close);
    return inner;
  }

  /** A LaTeX macro argument: {group} or one token, where a multi-digit number gives only its first digit (\frac12). */
  private macroArg(): MathNode {
    const t = this.peek();
    if (!t) throw new ParseFailure();
    if (t.t === 'op' && t.v === '{') return this.group('{', '}');
    if (t.t === 'num' && t.v.length > 1 && /^\d/.test(t.v)) {
      this.tokens[this.pos] = { t: 'num', v: t.v.slice(1) };
      return { kind: 'num', text: t.v[0] };
    }
    return this.primary();
  }

  private primary(): MathNode {
    const t = this.peek();
    if (!t) throw new ParseFailure();
    this.pos++;
    if (t.t === 'num') {
      if (this.isOp('_')) throw new ParseFailure(); // 204_5 is a base-5 numeral, not arithmetic
      return { kind: 'num', text: t.v };
    }
    if (t.t === 'op') {
      if (t.v === '(') return this.closeGroup(')');
      if (t.v === '[') return this.closeGroup(']');
      if (t.v === '{') return this.closeGroup('}');
      if (t.v === '|') {
        const inner = this.expr();
        this.expectOp('|');
        return { kind: 'call', fn: 'abs', args: [inner] };
      }
      throw new ParseFailure();
    }
    if (t.t === 'word') return this.word(t.v);
    return this.command(t.v);
  }

  private closeGroup(close: string): MathNode {
    const inner = this.expr();
    this.expectOp(close);
    return inner;
  }

  private word(w: string): MathNode {
    if (w in FUNCTION_NAMES) return this.application(FUNCTION_NAMES[w], w === 'log');
    if (w in WORD_CONSTANTS) return { kind: 'const', name: WORD_CONSTANTS[w] };
    if (w === 'e') return { kind: 'const', name: 'e' };
    if (w === 'i') return { kind: 'const', name: 'i' };
    return { kind: 'sym', name: w + this.subscript() };
  }

  private subscript(): string {
    if (!this.isOp('_')) return '';
    this.pos++;
    const t = this.peek();
    if (t && (t.t === 'num' || t.t === 'word')) {
      this.pos++;
      return '_' + t.v;
    }
    if (this.isOp('{')) {
      this.pos++;
      let name = '';
      while (this.peek() && !this.isOp('}')) {
        const s = this.tokens[this.pos++];
        if (s.t !== 'num' && s.t !== 'word') throw new ParseFailure();
        name += s.v;
      }
      this.expectOp('}');
      return '_' + name;
    }
    throw new ParseFailure();
  }

  private command(name: string): MathNode {
    switch (name) {
      case 'frac': {
        const num = this.macroArg();
        return { kind: 'bin', op: '/', left: num, right: this.macroArg() };
      }
      case 'sqrt': {
        if (this.isOp('[')) {
          const degree = this.group('[', ']');
          return { kind: 'call', fn: 'nthRoot', args: [this.macroArg(), degree] };
        }
        return { kind: 'call', fn: 'sqrt', args: [this.macroArg()] };
      }
      case 'binom': {
        const n = this.macroArg();
        return { kind: 'call', fn: 'combinations', args: [n, this.macroArg()] };
      }
      case 'pi':
        return { kind: 'const', name: 'pi' };
      case 'infty':
        return { kind: 'const', name: 'inf' };
      case 'lfloor':
      case 'lceil': {
        const inner = this.expr();
        if (!this.isCmd(name === 'lfloor' ? 'rfloor' : 'rceil')) throw new ParseFailure();
        this.pos++;
        return { kind: 'call', fn: name === 'lfloor' ? 'floor' : 'ceil', args: [inner] };
      }
      case 'lvert':
      case 'vert': {
        const inner = this.expr();
        if (!this.isCmd('rvert', 'vert')) throw new ParseFailure();
        this.pos++;
        return { kind: 'call', fn: 'abs', args: [inner] };
      }
    }
    if (name in FUNCTION_NAMES) return this.application(FUNCTION_NAMES[name], name === 'log');
    if (GREEK.has(name)) return { kind: 'sym', name: name.replace(/^var/, '') + this.subscript() };
    throw new ParseFailure();
  }

  /** f(x), f{x}, \sin x, \sin 2x, \sin^2 x, \log_2 8. */
  private application(fn: string, allowBase: boolean): MathNode {
    let power: MathNode | null = null;
    let base: MathNode | null = null;
    if (this.isOp('^')) {
      this.pos++;
      power = this.isOp('{') ? this.group('{', '}') : this.primary();
    }
    if (allowBase && this.isOp('_')) {
      this.pos++;
      base = this.isOp('{') ? this.group('{', '}') : this.primary();
    }
    let arg: MathNode;
    if (this.isOp('(')) arg = this.group('(', ')');
    else if (this.isOp('{')) arg = this.group('{', '}');
    else {
      // Without brackets the argument is the following run of juxtaposed factors: \sin 2x = sin(2x).
      arg = this.power();
      while (this.peek() && (this.peek()!.t === 'num' || this.peek()!.t === 'word') && !this.peekIsFunction()) {
        arg = { kind: 'bin', op: '*', left: arg, right: this.power() };
      }
    }
    let node: MathNode = { kind: 'call', fn, args: base ? [arg, base] : [arg] };
    if (power) node = { kind: 'bin', op: '^', left: node, right: power };
    return node;
  }

  private peekIsFunction(): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'word' && t.v in FUNCTION_NAMES;
  }
}

class ParseFailure extends Error {}

/** Parses one mathematical expression; null when it is not one we understand. */
export function parseMath(src: string): MathNode | null {
  if (src.length === 0 || src.length > MAX_EXPRESSION_CHARS) return null;
  const tokens = tokenize(src);
  if (!tokens || tokens.length === 0) return null;
  try {
    return new Parser(tokens).parseAll();
  } catch (e) {
    if (e instanceof ParseFailure) return null;
    throw e;
  }
}

/** Exact value when the expression is rational arithmetic (integer powers, perfect-square roots); else null. */
export function evaluateExactly(node: MathNode): Rational | null {
  switch (node.kind) {
    case 'num':
      return Rational.parseDecimal(node.text);
    case 'neg': {
      const v = evaluateExactly(node.arg);
      return v ? v.neg() : null;
    }
    case 'bin': {
      const a = evaluateExactly(node.left);
      if (!a) return null;
      const b = evaluateExactly(node.right);
      if (!b) return null;
      switch (node.op) {
        case '+':
          return a.add(b);
        case '-':
          return a.sub(b);
        case '*':
          return a.mul(b);
        case '/':
          return a.div(b);
        case '^':
          return a.pow(b);
      }
      return null;
    }
    case 'call': {
      if (node.fn !== 'sqrt' || node.args.length !== 1) return null;
      const v = evaluateExactly(node.args[0]);
      return v ? v.sqrt() : null;
    }
    default:
      return null;
  }
}

/** +1 for ∞, −1 for −∞, 0 otherwise (infinity is compared by sign, never numerically). */
export function infinitySign(node: MathNode): number {
  if (node.kind === 'const' && node.name === 'inf') return 1;
  if (node.kind === 'neg') return -infinitySign(node.arg);
  return 0;
}

export function containsInfinity(node: MathNode): boolean {
  switch (node.kind) {
    case 'const':
      return node.name === 'inf';
    case 'neg':
      return containsInfinity(node.arg);
    case 'bin':
      return containsInfinity(node.left) || containsInfinity(node.right);
    case 'call':
      return node.args.some(containsInfinity);
    default:
      return false;
  }
}

/**
 * mathjs syntax with every operation parenthesised. Variables get a `v_` prefix so a variable named
 * e.g. `E` or `phi` is never read as a mathjs constant.
 */
export function toMathjs(node: MathNode): string {
  switch (node.kind) {
    case 'num':
      return node.text.startsWith('.') ? '0' + node.text : node.text.replace(/\.$/, '');
    case 'sym':
      return 'v_' + node.name;
    case 'const':
      return node.name === 'inf' ? 'Infinity' : node.name;
    case 'neg':
      return `(-${toMathjs(node.arg)})`;
    case 'bin':
      return `(${toMathjs(node.left)} ${node.op} ${toMathjs(node.right)})`;
    case 'call':
      return `${node.fn}(${node.args.map(toMathjs).join(', ')})`;
  }
}

/** Names of the variables in `node`, sorted. */
export function variableNames(node: MathNode): string[] {
  const names = new Set<string>();
  const visit = (n: MathNode): void => {
    if (n.kind === 'sym') names.add(n.name);
    else if (n.kind === 'neg') visit(n.arg);
    else if (n.kind === 'bin') {
      visit(n.left);
      visit(n.right);
    } else if (n.kind === 'call') n.args.forEach(visit);
  };
  visit(node);
  return [...names].sort();
}

/** `node` with its variables renamed through `names` (unlisted ones kept). */
export function renameVariables(node: MathNode, names: Map<string, string>): MathNode {
  switch (node.kind) {
    case 'sym':
      return { kind: 'sym', name: names.get(node.name) ?? node.name };
    case 'neg':
      return { kind: 'neg', arg: renameVariables(node.arg, names) };
    case 'bin':
      return { ...node, left: renameVariables(node.left, names), right: renameVariables(node.right, names) };
    case 'call':
      return { ...node, args: node.args.map((a) => renameVariables(a, names)) };
    default:
      return node;
  }
}

/** True when a number in `node` is written as a decimal (0.5, 2.6667): such answers compare after rounding. */
export function hasDecimal(node: MathNode): boolean {
  switch (node.kind) {
    case 'num':
      return /[.eE]/.test(node.text);
    case 'neg':
      return hasDecimal(node.arg);
    case 'bin':
      return hasDecimal(node.left) || hasDecimal(node.right);
    case 'call':
      return node.args.some(hasDecimal);
    default:
      return false;
  }
}
