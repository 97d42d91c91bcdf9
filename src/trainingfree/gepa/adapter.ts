/**
 * How GEPA runs a program (gepa-ai/gepa: src/gepa/core/adapter.py, GEPAAdapter): evaluate it on a batch,
 * optionally keeping traces, and turn those traces into per-component examples for reflection.
 * `ChatProgramAdapter` is the default for prompt programs: the components fill a system prompt (and may appear
 * in the user template), the task model answers, the metric scores and explains (gepa: DefaultAdapter).
 */
import type { ChatMessage, ChatModel } from '../../rollout/chat-model.ts';
import type { TaskExample } from '../common/dataset.ts';
import { scoreResponse, type TaskMetric } from '../common/metrics.ts';
import { renderTemplate } from '../common/template.ts';
import type { ReflectiveRecord } from './instruction-proposal.ts';
import type { Program } from './pareto.ts';

export interface ExecutionTrace {
  input: string;
  output: string;
  score: number;
  feedback: string;
}

export interface EvaluationBatch {
  outputs: string[];
  /** one per example; each counts as one metric call against the budget */
  scores: number[];
  /** present when traces were asked for */
  traces: ExecutionTrace[] | null;
}

export interface GepaAdapter {
  evaluate(batch: readonly TaskExample[], program: Program, captureTraces: boolean): Promise<EvaluationBatch>;
  /** examples with feedback for each component to be rewritten */
  makeReflectiveDataset(
    program: Program,
    evaluation: EvaluationBatch,
    components: readonly string[],
  ): Record<string, ReflectiveRecord[]>;
}

export interface ChatProgramOptions {
  model: ChatModel;
  metric: TaskMetric;
  /** system prompt; {{<component>}} placeholders. null = the components' texts joined by blank lines */
  systemTemplate: string | null;
  /** user turn; {{input}} and {{<component>}} placeholders */
  userTemplate: string;
  temperature: number;
  maxTokens?: number;
}

export class ChatProgramAdapter implements GepaAdapter {
  constructor(private readonly opts: ChatProgramOptions) {}

  messages(program: Program, example: TaskExample): ChatMessage[] {
    const system =
      this.opts.systemTemplate === null
        ? Object.values(program).join('\n\n')
        : renderTemplate(this.opts.systemTemplate, program);
    const user = renderTemplate(this.opts.userTemplate, { ...program, input: example.input });
    return system.trim()
      ? [
          { role: 'system', content: system },
          { role: 'user', content: user },
        ]
      : [{ role: 'user', content: user }];
  }

  async evaluate(batch: readonly TaskExample[], program: Program, captureTraces: boolean): Promise<EvaluationBatch> {
    const results = await Promise.all(
      batch.map(async (example) => {
        const res = await this.opts.model.chat(this.messages(program, example), {
          temperature: this.opts.temperature,
          maxTokens: this.opts.maxTokens,
          n: 1,
        });
        const output = res.choices[0]?.text ?? '';
        const { score, feedback } = await scoreResponse(this.opts.metric, output, example);
        return { input: example.input, output, score, feedback };
      }),
    );
    return {
      outputs: results.map((r) => r.output),
      scores: results.map((r) => r.score),
      traces: captureTraces ? results : null,
    };
  }

  /** Every component sees the whole interaction: with one model call per example, each component shaped all of it. */
  makeReflectiveDataset(
    _program: Program,
    evaluation: EvaluationBatch,
    components: readonly string[],
  ): Record<string, ReflectiveRecord[]> {
    const records: ReflectiveRecord[] = (evaluation.traces ?? []).map((t) => ({
      'Task input': t.input,
      'Assistant response': t.output,
      Feedback: `Score ${t.score}. ${t.feedback}`.trim(),
    }));
    return Object.fromEntries(components.map((c) => [c, records]));
  }
}
