/**
 * The calculator tool: arithmetic expressions evaluated with mathjs, restricted to numbers, + − × ÷ ^ %,
 * parentheses and a few elementary functions and constants, so the model cannot reach mathjs's matrices, units,
 * `import` or function definitions (mathjs's own security advice: whitelist the expression tree).
 */
import { createRequire } from 'node:module';
import type { MathJsInstance, MathNode } from 'mathjs';
import type { Tool } from './tool.ts';

let instance: MathJsInstance | undefined;
/** mathjs takes a good part of a second to load: loaded by the first expression, not by every `grpo` command */
function mathjs(): MathJsInstance {
  if (!instance) {
    const { create, all } = createRequire(import.meta.url)('mathjs') as typeof import('mathjs');
    instance = create(all, { number: 'number' });
  }
  return instance;
}
const FUNCTIONS = new Set([
  'sqrt',
  'abs',
  'round',
  'floor',
  'ceil',
  'exp',
  'log',
  'log10',
  'log2',
  'sin',
  'cos',
  'tan',
  'min',
  'max',
  'mod',
  'pow',
]);
const CONSTANTS = new Set(['pi', 'e']);
const OPERATORS = new Set(['+', '-', '*', '/', '^', '%', 'mod']);
const MAX_EXPRESSION = 200;

function checkNode(node: MathNode): void {
  node.traverse((n) => {
    const type = n.type;
    if (type === 'ConstantNode') {
      if (typeof (n as unknown as { value: unknown }).value !== 'number') throw new Error('only numbers are allowed');
    } else if (type === 'OperatorNode') {
      const op = (n as unknown as { op: string }).op;
      if (!OPERATORS.has(op)) throw new Error(`operator '${op}' is not allowed`);
    } else if (type === 'FunctionNode') {
      const name = (n as unknown as { fn: { name?: string } }).fn.name;
      if (!name || !FUNCTIONS.has(name))
        throw new Error(`function '${name ?? '?'}' is not available; use ${[...FUNCTIONS].join(', ')}`);
    } else if (type === 'SymbolNode') {
      const name = (n as unknown as { name: string }).name;
      // a function's name is a SymbolNode child of its FunctionNode, checked above
      if (!CONSTANTS.has(name) && !FUNCTIONS.has(name)) throw new Error(`unknown name '${name}'`);
    } else if (type !== 'ParenthesisNode') {
      throw new Error(`${type.replace('Node', '').toLowerCase()} expressions are not allowed`);
    }
  });
}

/** Evaluate an arithmetic expression to text (integers exactly, others to 12 significant digits). */
export function calculate(expression: string): string {
  if (expression.length > MAX_EXPRESSION) throw new Error(`expression longer than ${MAX_EXPRESSION} characters`);
  const node = mathjs().parse(expression);
  checkNode(node);
  const value = node.evaluate() as unknown;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`the expression has no finite value (${String(value)})`);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(12)));
}

export function calculatorTool(): Tool {
  return {
    name: 'calculator',
    description:
      'Evaluate an arithmetic expression (+ - * / ^ %, parentheses, sqrt, abs, round, exp, log, sin, cos, pi, e) and return its value.',
    parameters: {
      type: 'object',
      properties: { expression: { type: 'string', description: 'the expression, e.g. 347*86' } },
      required: ['expression'],
    },
    run: (args) => calculate(String(args.expression)),
  };
}
