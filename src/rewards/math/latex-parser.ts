/**
 * A small parser for the LaTeX (or plain-text) math that answers are written in: numbers, variables,
 * + − × ÷ ^, implicit multiplication, \frac, \sqrt, functions, π, e, i, ∞, |x|, n!.
 * It produces a tiny AST (math-node.ts) that can be evaluated exactly (rational.ts) or serialised for mathjs.
 * Anything it does not understand makes it return null, and the grader falls back to string comparison.
 */
import { FUNCTION_NAMES, GREEK, type Token, tokenize, WORD_CONSTANTS } from './latex-lexer.ts';
import type { MathNode } from './math-node.ts';

/** Longest input the parser accepts; longer answers are compared as strings (keeps every check bounded). */
export const MAX_EXPRESSION_CHARS = 1000;

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
