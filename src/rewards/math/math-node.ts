/**
 * The parsed form of an answer (latex-parser.ts builds it) and what the grader computes from it: its exact
 * rational value, its mathjs text for the CAS, its variables, infinities and decimals.
 */
import { Rational } from './rational.ts';

export type MathNode =
  | { kind: 'num'; text: string }
  | { kind: 'sym'; name: string }
  | { kind: 'const'; name: 'pi' | 'e' | 'i' | 'inf' }
  | { kind: 'neg'; arg: MathNode }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '^'; left: MathNode; right: MathNode }
  | { kind: 'call'; fn: string; args: MathNode[] };

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
