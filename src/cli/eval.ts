/**
 * `grpo eval --model PATH --data FILE|embedded:<task>`: held-out accuracy of a model. Greedy by default; with
 * `--n-samples k --temperature t` it also reports pass@k. Prints one line of metrics and can write every
 * completion as JSON Lines.
 */
import { writeFileAtomic } from '../util/atomic.ts';
import { prepareOutputFile } from '../util/output-path.ts';
import type { Command } from 'commander';
import { addModelFlags, modelOptions, type ModelFlags } from './model-flags.ts';
import { openModel } from '../model/open-model.ts';
import { embeddedTask, isEmbeddedData } from '../data/synthetic/index.ts';
import { resolveModelPath } from '../data/synthetic/embedded-model.ts';
import { readExamples } from '../data/examples.ts';
import { promptTemplate, type TemplateKind } from '../data/templates.ts';
import { evaluateModel, type EvalReport } from '../trainer/evaluate.ts';
import { GrpoError } from '../errors.ts';

export interface EvalCliOptions extends ModelFlags {
  model: string;
  data: string;
  nSamples?: number;
  temperature?: number;
  topP?: number;
  /** default: an embedded task's need + 8, else 256 */
  maxTokens?: number;
  /** prompts scored (default: all rows of a file, 200 for an embedded task) */
  limit?: number;
  /** sampling seed */
  seed?: number;
  /** seed of an embedded task's held-out draw (default 1, as `grpo sft`) */
  dataSeed?: number;
  template?: TemplateKind;
  system?: string;
  promptField?: string;
  answerField?: string;
  /** write one JSON line per completion here */
  out?: string;
}

/** One line: accuracy=… [pass@k=…] format_rate=… mean_length=… */
export function formatEvalReport(r: EvalReport): string {
  const passAtK = r.k > 1 ? ` pass@${r.k}=${r.pass_at_k.toFixed(3)}` : '';
  return `accuracy=${r.accuracy.toFixed(3)}${passAtK} format_rate=${r.format_rate.toFixed(3)} mean_length=${r.mean_length.toFixed(1)} truncated_rate=${r.truncated_rate.toFixed(3)} prompts=${r.prompts} samples=${r.prompts * r.k}`;
}

export async function runEval(o: EvalCliOptions, print: (line: string) => void = console.log): Promise<EvalReport> {
  const n = o.nSamples ?? 1;
  const temperature = o.temperature ?? 0;
  if (n > 1 && temperature === 0)
    throw new GrpoError(
      'config',
      `--n-samples ${n} with greedy decoding gives identical samples; pass --temperature (e.g. 1) for pass@${n}`,
    );
  const examples = await readExamples({
    path: o.data,
    split: 'held_out',
    limit: o.limit,
    seed: o.dataSeed ?? 1,
    columns: { prompt: o.promptField, answer: o.answerField },
    columnAdvice: 'name your columns with --prompt-field / --answer-field',
  });
  if (examples.some((e) => e.answer === undefined))
    throw new GrpoError(
      'data',
      `${o.data}: some examples have no gold answer; map the answer column with --answer-field`,
    );
  if (o.out) prepareOutputFile(o.out, 'the completions (--out)');
  const maxTokens = o.maxTokens ?? (isEmbeddedData(o.data) ? embeddedTask(o.data).maxCompletionTokens() + 8 : 256);
  const { model, tokenizer } = openModel(resolveModelPath(o.model), modelOptions(o));
  try {
    const { report, completions } = await evaluateModel(model, tokenizer, examples, {
      nSamples: n,
      temperature,
      topP: o.topP,
      maxTokens,
      seed: o.seed ?? 0,
      promptText: promptTemplate(o.template ?? 'raw', tokenizer, { system: o.system }),
    });
    if (o.out) writeFileAtomic(o.out, completions.map((c) => JSON.stringify(c)).join('\n') + '\n');
    print(formatEvalReport(report));
    return report;
  } finally {
    model.free();
  }
}

const int = (v: string) => parseInt(v, 10);

/** Register `grpo eval` on the command line program. */
export function registerEvalCommand(program: Command): Command {
  return addModelFlags(
    program
      .command('eval')
      .description('held-out accuracy, pass@k, format rate and length of a model on prompts with gold answers')
      .requiredOption('--model <path>', 'model: Hugging Face folder, .gguf, llama2.c .bin, or "embedded"')
      .requiredOption(
        '--data <path>',
        'prompts with answers: .jsonl/.json/.parquet, or embedded:<task> (its held-out split)',
      )
      .option('--n-samples <n>', 'samples per prompt (pass@n)', int, 1)
      .option('--temperature <t>', 'sampling temperature; 0 is greedy', parseFloat, 0)
      .option('--top-p <p>', 'nucleus sampling mass', parseFloat)
      .option('--max-tokens <n>', "completion tokens at most (default: the task's need, or 256)", int)
      .option('--limit <n>', 'prompts to score (default: all rows, 200 for an embedded task)', int)
      .option('--seed <s>', 'sampling seed', int, 0)
      .option('--data-seed <s>', "seed of an embedded task's held-out draw", int, 1)
      .option('--template <kind>', 'prompt text: raw, r1_zero or chat', 'raw')
      .option('--system <text>', 'system message for the chat template')
      .option('--prompt-field <field>', 'field holding the prompt', 'prompt')
      .option('--answer-field <field>', 'field holding the gold answer', 'answer')
      .option('--out <file>', 'write every completion as JSON Lines')
      .action(async (opts) => {
        if (!['raw', 'r1_zero', 'chat'].includes(opts.template))
          throw new GrpoError('config', `--template must be raw, r1_zero or chat, got '${opts.template}'`);
        await runEval(opts as EvalCliOptions);
      }),
  );
}
