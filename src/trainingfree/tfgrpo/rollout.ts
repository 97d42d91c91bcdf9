/**
 * Training-Free GRPO rollouts: the frozen task model answers each question `n` times with the current
 * experience library in its system prompt (youtu-agent: utu/practice/rollout_manager.py, pass_k = grpo_n),
 * each answer is scored by the task metric, and answers are grouped per question as in GRPO.
 */
import { sampleCompletions, type ChatMessage, type ChatModel } from '../../rollout/chat-model.ts';
import type { TaskExample } from '../common/dataset.ts';
import { scoreResponse, type TaskMetric } from '../common/metrics.ts';
import { renderTemplate } from '../common/template.ts';
import type { ExperienceLibrary } from './experience-library.ts';
import { experiencesBlock } from './prompts.ts';
import { mean } from '../../algorithms/stats.ts';

export interface TaskPrompt {
  /** the task model's instructions; the experience block is appended to them */
  systemPrompt: string;
  /** the user turn; {{input}} is the example's input */
  userTemplate: string;
}

export interface SamplingConfig {
  n: number;
  temperature: number;
  maxTokens?: number;
  /** base seed for server-side sampling; each (question, call) gets its own */
  seed?: number;
}

export interface ScoredResponse {
  text: string;
  finishReason: string;
  score: number;
  feedback: string;
}

export interface RolloutGroup {
  example: TaskExample;
  responses: ScoredResponse[];
  meanScore: number;
}

/** The system prompt with the library appended (youtu-agent: `_create_agent_config_with_experiences`). */
export function systemPromptWithExperiences(systemPrompt: string, library: ExperienceLibrary | null): string {
  const block = library ? experiencesBlock(library) : '';
  if (!block) return systemPrompt;
  return systemPrompt ? `${systemPrompt}\n\n${block}` : block;
}

export function taskMessages(
  prompt: TaskPrompt,
  library: ExperienceLibrary | null,
  example: TaskExample,
): ChatMessage[] {
  const system = systemPromptWithExperiences(prompt.systemPrompt, library);
  const messages: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  messages.push({ role: 'user', content: renderTemplate(prompt.userTemplate, { input: example.input }) });
  return messages;
}

/**
 * A group worth learning from: some answers right, some wrong, i.e. 0 < mean < 1 (youtu-agent,
 * experience_updater.py `_single_rollout_summary`). All-right and all-wrong groups carry no relative signal,
 * the same reasoning as DAPO's dynamic-sampling filter.
 */
export function isMixedGroup(scores: readonly number[]): boolean {
  const m = mean(scores, NaN);
  return m > 0 && m < 1;
}

/** Samples and scores `sampling.n` answers per example. */
export async function rolloutGroups(
  model: ChatModel,
  examples: readonly TaskExample[],
  library: ExperienceLibrary | null,
  prompt: TaskPrompt,
  sampling: SamplingConfig,
  metric: TaskMetric,
): Promise<RolloutGroup[]> {
  return Promise.all(
    examples.map(async (example, i) => {
      const choices = await sampleCompletions(model, taskMessages(prompt, library, example), sampling.n, {
        temperature: sampling.temperature,
        maxTokens: sampling.maxTokens,
        seed: sampling.seed === undefined ? undefined : sampling.seed + i * sampling.n,
      });
      const responses = await Promise.all(
        choices.map(async (c) => {
          const r = await scoreResponse(metric, c.text, example);
          return { text: c.text, finishReason: c.finishReason, score: r.score, feedback: r.feedback };
        }),
      );
      return {
        example,
        responses,
        meanScore: mean(
          responses.map((r) => r.score),
          NaN,
        ),
      };
    }),
  );
}

export interface SplitScore {
  /** mean score over every sampled answer (avg@n) */
  mean: number;
  /** fraction of examples where the best of the n answers scored ≥ 1 (pass@n for 0/1 metrics) */
  passAtN: number;
  examples: number;
  samplesPerExample: number;
}

/** Held-out evaluation of a library (null = no library, the baseline). */
export async function evaluateSplit(
  model: ChatModel,
  examples: readonly TaskExample[],
  library: ExperienceLibrary | null,
  prompt: TaskPrompt,
  sampling: SamplingConfig,
  metric: TaskMetric,
): Promise<SplitScore> {
  const groups = await rolloutGroups(model, examples, library, prompt, sampling, metric);
  const all = groups.flatMap((g) => g.responses.map((r) => r.score));
  const passed = groups.filter((g) => g.responses.some((r) => r.score >= 1)).length;
  return {
    mean: mean(all, NaN),
    passAtN: passed / groups.length,
    examples: groups.length,
    samplesPerExample: sampling.n,
  };
}
