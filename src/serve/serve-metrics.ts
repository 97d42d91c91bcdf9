/**
 * What `GET /metrics` reports, under vLLM's names and types (vllm/v1/metrics/loggers.py, PrometheusStatLogger) so
 * dashboards and alerts written for vLLM read grpo serve unchanged; every series has the `model_name` label.
 *
 * As vLLM splits a request's n samples into n engine requests, a "request" here is one sequence (one prompt × one
 * sample): a completions request of 2 prompts with n = 3 is 6 running, 6 successes, and each of its latencies is
 * observed 6 times. Token counts are those of the answers' `usage`: a prompt counts once however many samples it has
 * (it is computed once), and a request's tokens count when it is answered.
 */
import { Counter, gaugeText, Histogram, type Labels } from './prometheus-text.ts';
import type { ServedChoice } from './served-choices.ts';

/** vLLM's buckets for time to first token (seconds) */
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
];
/** vLLM's buckets for request latencies (seconds) */
const LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
];

/** vLLM's FinishReason values: a client that went away is 'abort' */
export type FinishedReason = 'stop' | 'length' | 'abort';

/** sequences decoding now, and sequences submitted that have not joined a batch yet */
export interface SchedulerLoad {
  running: number;
  waiting: number;
}

export class ServeMetrics {
  private readonly labels: Labels;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly success: Counter;
  private readonly ttft: Histogram;
  private readonly e2e: Histogram;

  constructor(
    modelName: string,
    /** read when scraped */
    private readonly load: () => SchedulerLoad,
  ) {
    const labels = { model_name: modelName };
    this.labels = labels;
    this.promptTokens = new Counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', [labels]);
    this.generationTokens = new Counter('vllm:generation_tokens', 'Number of generation tokens processed.', [labels]);
    this.success = new Counter(
      'vllm:request_success',
      'Count of successfully processed requests.',
      (['stop', 'length', 'abort'] as const).map((r) => ({ ...labels, finished_reason: r })),
    );
    this.ttft = new Histogram(
      'vllm:time_to_first_token_seconds',
      'Histogram of time to first token in seconds.',
      TTFT_BUCKETS,
      labels,
    );
    this.e2e = new Histogram(
      'vllm:e2e_request_latency_seconds',
      'Histogram of e2e request latency in seconds.',
      LATENCY_BUCKETS,
      labels,
    );
  }

  /** A request's first token was sampled, `seconds` after it arrived, for each of its `sequences`. */
  firstToken(sequences: number, seconds: number): void {
    this.ttft.observe(seconds, sequences);
  }

  /** A request was answered: its prompts' tokens (counted once each) and its choices. */
  finished(promptTokens: number, choices: readonly ServedChoice[], seconds: number): void {
    this.promptTokens.inc(this.labels, promptTokens);
    for (const c of choices) {
      this.generationTokens.inc(this.labels, c.completionTokens);
      this.success.inc({ ...this.labels, finished_reason: c.finishReason });
    }
    this.e2e.observe(seconds, choices.length);
  }

  /** A request's client went away before its answer: each of its sequences ends as 'abort'. */
  aborted(sequences: number): void {
    this.success.inc({ ...this.labels, finished_reason: 'abort' }, sequences);
  }

  /** The whole exposition, as GET /metrics answers it. */
  text(): string {
    const { running, waiting } = this.load();
    return [
      gaugeText('vllm:num_requests_running', 'Number of requests in model execution batches.', [
        [this.labels, running],
      ]),
      gaugeText('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', [[this.labels, waiting]]),
      this.promptTokens.text(),
      this.generationTokens.text(),
      this.success.text(),
      this.ttft.text(),
      this.e2e.text(),
    ].join('');
  }
}
