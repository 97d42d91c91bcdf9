/**
 * Task metrics for the training-free methods: a score in [0, 1] plus textual feedback. GEPA's reflection
 * reads the feedback (gepa: adapters/default_adapter — "score and feedback" evaluators); Training-Free GRPO
 * uses the score only. Chosen by name in a config (`task.metric`), or passed as a function by library users.
 */
import { GrpoError } from '../../errors.ts';
import { gradeMath } from '../../rewards/math/grade.ts';
import type { TaskExample } from './dataset.ts';

export interface MetricResult {
  /** 0 = wrong … 1 = perfect */
  score: number;
  /** why, in words a reflection model can act on */
  feedback: string;
}

export type TaskMetric = (response: string, example: TaskExample) => MetricResult | Promise<MetricResult>;

/** Lower case, trimmed, runs of white space collapsed, a trailing full stop dropped. */
export function normalizeText(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.$/, '');
}

function verdict(ok: boolean, right: string, wrong: string): MetricResult {
  return ok ? { score: 1, feedback: right } : { score: 0, feedback: wrong };
}

export const taskMetrics: Record<string, TaskMetric> = {
  /** the whole response equals the answer after normalizeText */
  exact_match: (response, ex) =>
    verdict(
      normalizeText(response) === normalizeText(ex.answer),
      `Correct: the response is exactly the expected answer '${ex.answer}'.`,
      `Incorrect: the expected answer is '${ex.answer}', and the response must consist of exactly that answer with nothing else.`,
    ),
  /** the answer appears in the response (gepa's default ContainsAnswerEvaluator does the same) */
  contains: (response, ex) =>
    verdict(
      normalizeText(response).includes(normalizeText(ex.answer)),
      `Correct: the response contains the expected answer '${ex.answer}'.`,
      `Incorrect: the expected answer is '${ex.answer}'; the response must state it literally.`,
    ),
  /** final answer (\boxed{}, "answer is …", last number) mathematically equal to the gold (rewards/math) */
  math: (response, ex) =>
    verdict(
      gradeMath(response, ex.answer),
      `Correct: the final answer matches the reference answer ${ex.answer}.`,
      `Incorrect: the reference answer is ${ex.answer}. The final answer was missing or different; it should be given last, inside \\boxed{}.`,
    ),
};

export function metricByName(name: string): TaskMetric {
  const m = taskMetrics[name];
  if (!m)
    throw new GrpoError(
      'config',
      `unknown metric '${name}'; known: ${Object.keys(taskMetrics).join(', ')} (library users may pass a metric function instead)`,
    );
  return m;
}

/** Runs a metric and checks its result, so a buggy metric fails loudly with the example named. */
export async function scoreResponse(metric: TaskMetric, response: string, example: TaskExample): Promise<MetricResult> {
  const r = await metric(response, example);
  if (!r || typeof r.score !== 'number' || !Number.isFinite(r.score)) {
    throw new GrpoError(
      'metric',
      `metric returned ${JSON.stringify(r)} for example '${example.id}'; it must return { score: finite number, feedback: string }`,
    );
  }
  return { score: r.score, feedback: typeof r.feedback === 'string' ? r.feedback : '' };
}
