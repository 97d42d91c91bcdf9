/**
 * Code execution reward (open-r1 `code_reward`): extract the program from the completion, run it
 * against the sample's tests in a sandbox, score the share of tests passed (or 1/0 with allOrNothing).
 * Samples carry `tests` (assert statements; data/ maps HumanEval and MBPP to it), optionally
 * `test_setup` (run after the code, before the tests), or `io_tests` ([{input, output}] for
 * stdin/stdout problems, Python only).
 */
import {
  runPythonAssertTests,
  runPythonIoTests,
  type IoTestCase,
  type PythonLimits,
  type CodeRunResult,
} from './python.ts';
import { runJavaScriptTests, type JavaScriptLimits } from './javascript.ts';
import { programLimit } from './program-limit.ts';
import type { RewardFn, Sample } from '../types.ts';
import { GrpoError } from '../../errors.ts';

export type CodeLanguage = 'python' | 'javascript';

const FENCE_NAMES: Record<CodeLanguage, string[]> = {
  python: ['python', 'py', 'python3'],
  javascript: ['javascript', 'js', 'node'],
};

/** The last ```lang fenced block for `language`, else the last block without a language tag, else null. */
export function extractCode(completion: string, language: CodeLanguage): string | null {
  const end = completion.lastIndexOf('</think>');
  const text = end >= 0 ? completion.slice(end + '</think>'.length) : completion;
  const blocks = [...text.matchAll(/```([\w+-]*)[^\n]*\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1].toLowerCase(),
    code: m[2],
  }));
  const wanted = FENCE_NAMES[language];
  const tagged = blocks.filter((b) => wanted.includes(b.lang));
  if (tagged.length) return tagged[tagged.length - 1].code;
  const untagged = blocks.filter((b) => b.lang === '');
  return untagged.length ? untagged[untagged.length - 1].code : null;
}

export interface CodeRewardOptions {
  /** Language of the program; default sample.language, else 'python'. */
  language?: CodeLanguage;
  /** 1 only if every test passes (open-r1 `binary_code_reward`), instead of the share passed. Default false. */
  allOrNothing?: boolean;
  /** Programs run at once (subprocesses / sandbox workers; program-limit.ts). Default: available CPUs. */
  concurrency?: number;
  python?: PythonLimits;
  javascript?: JavaScriptLimits;
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new GrpoError(
      'reward',
      `code reward: sample.${what} must be a list of strings; map your dataset's tests to '${what}' (data/ presets do this for HumanEval and MBPP)`,
    );
  }
  return v;
}

function ioCases(v: unknown): IoTestCase[] {
  if (!Array.isArray(v) || !v.every((c) => c && typeof c.input === 'string' && typeof c.output === 'string')) {
    throw new GrpoError('reward', 'code reward: sample.io_tests must be a list of {input, output} strings');
  }
  return v as IoTestCase[];
}

/** Runs the completion's program against the sample's tests and returns the full result. */
export async function runCodeTests(
  completion: string,
  sample: Sample,
  opts: CodeRewardOptions = {},
): Promise<CodeRunResult | null> {
  const language = opts.language ?? (sample.language === 'javascript' ? 'javascript' : 'python');
  const code = extractCode(completion, language);
  if (code === null) return null;
  // MBPP's setup builds test fixtures from the solution's own classes, so it runs after the code.
  const setup =
    typeof sample.test_setup === 'string' && sample.test_setup.trim() !== '' ? '\n' + sample.test_setup + '\n' : '';
  if (sample.io_tests !== undefined) {
    if (language !== 'python') throw new GrpoError('reward', 'code reward: io_tests are supported for Python only');
    return runPythonIoTests(code, ioCases(sample.io_tests), opts.python);
  }
  const tests = stringList(sample.tests, 'tests');
  return language === 'python'
    ? runPythonAssertTests(code + setup, tests, opts.python)
    : runJavaScriptTests(code + setup, tests, opts.javascript);
}

/** Code execution reward: share of tests passed (0 when no code block is found). */
export function codeReward(opts: CodeRewardOptions = {}): RewardFn {
  const limit = programLimit(opts.concurrency, 'code reward');
  return (completion, sample) =>
    limit(async () => {
      const r = await runCodeTests(completion, sample, opts);
      if (!r || r.total === 0) return 0;
      return opts.allOrNothing ? (r.passed === r.total ? 1 : 0) : r.passed / r.total;
    });
}
