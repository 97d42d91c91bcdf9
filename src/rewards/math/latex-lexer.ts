/**
 * The words of answer math and the tokenizer that splits it: numbers, \commands, operators, and letter runs cut
 * into the function and constant names a model writes without a backslash ("sinx" = sin x) or single letters.
 */

export type Token =
  | { t: 'num'; v: string }
  | { t: 'word'; v: string }
  | { t: 'cmd'; v: string }
  | { t: 'op'; v: string };

// Names a model may write without a backslash; matched greedily inside letter runs ("sinx" = sin x).
export const FUNCTION_NAMES: Record<string, string> = {
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
export const WORD_CONSTANTS: Record<string, 'pi' | 'inf'> = { pi: 'pi', infty: 'inf', infinity: 'inf', inf: 'inf' };
const KNOWN_WORDS = [...Object.keys(FUNCTION_NAMES), ...Object.keys(WORD_CONSTANTS)].sort(
  (a, b) => b.length - a.length,
);

export const GREEK = new Set([
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

/** The tokens of `src`; null at a character no token starts with. */
export function tokenize(src: string): Token[] | null {
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
