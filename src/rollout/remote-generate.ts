/**
 * Rollouts from a rollout server (an OpenAI-compatible one: vLLM, SGLang, `grpo serve`), in the embedded
 * generator's shape. Prompts go as token ids and completion tokens come back as ids through vLLM's
 * `return_tokens_as_token_ids` extension ("token_id:<n>" strings), so the trainer learns on exactly the tokens the
 * server sampled; the server's log-probs are kept as the rollout log-probs (for TIS/MIS corrections).
 */
import type { GenerateOptions } from './generate.ts';
import type { Completion } from './completion.ts';
import type { GenerationChoice, GenerationResult, TokenCompleter } from './chat-model.ts';
import { GrpoError } from '../errors.ts';

export type RemoteGenerateOptions = Omit<GenerateOptions, 'spanBucket' | 'onStep' | 'decode' | 'eosTokenIds'> & {
  /** end-of-sequence ids: a completion ending in one finished with 'stop' (kept as its last token, as the embedded decoder does) */
  eosTokenIds?: number[];
};

const TOKEN_ID = /^token_id:(\d+)$/;

/**
 * One /v1/completions request for token ids, checked: as many choices as asked, and the whole prompt read (an
 * server that cut the prompt to fit its context sampled from a context the trainer would not score).
 */
export async function completeTokens(
  client: TokenCompleter,
  prompt: number[],
  opts: RemoteGenerateOptions & { extra?: Record<string, unknown> },
): Promise<GenerationResult> {
  const n = opts.n ?? 1;
  const r = await client.complete(prompt, {
    n,
    maxTokens: opts.maxTokens,
    temperature: opts.temperature,
    topP: opts.topP,
    stop: opts.stop,
    seed: opts.seed,
    logprobs: true,
    extra: {
      top_k: opts.topK || undefined,
      min_p: opts.minP || undefined,
      return_tokens_as_token_ids: true,
      skip_special_tokens: false,
      ...opts.extra,
    },
  });
  if (r.choices.length !== n)
    throw new GrpoError('http', `the rollout server returned ${r.choices.length} completions for n = ${n}`);
  if (r.usage && r.usage.promptTokens > 0 && r.usage.promptTokens < prompt.length) {
    throw new GrpoError(
      'http',
      `the rollout server read ${r.usage.promptTokens} of the prompt's ${prompt.length} tokens (its context is shorter than the trainer's): serve the model with a context of at least data.max_prompt_tokens + rollout.max_tokens, or lower them`,
    );
  }
  return r;
}

/** A choice's sampled token ids ("token_id:<n>" strings) and log-probs. */
export function sampledTokens(
  c: GenerationChoice,
): Pick<Completion, 'tokens' | 'logprobs' | 'samplingLogprobs' | 'finishReason'> {
  if (!c.logprobs)
    throw new GrpoError('http', 'the rollout server returned no logprobs; it must support logprobs on /v1/completions');
  const tokens = c.logprobs.map((t) => {
    const m = TOKEN_ID.exec(t.token);
    if (!m)
      throw new GrpoError(
        'http',
        `the rollout server returned token '${t.token}', not 'token_id:<n>': it must support return_tokens_as_token_ids (vLLM, grpo serve)`,
      );
    return Number(m[1]);
  });
  const logprobs = c.logprobs.map((t) => t.logprob);
  return {
    tokens,
    logprobs,
    samplingLogprobs: logprobs,
    finishReason: c.finishReason === 'length' ? 'length' : 'stop',
  };
}

/**
 * `onPrompt` is called with each prompt's completions as soon as its response arrives, so the caller can score
 * them while the server is still generating the rest.
 */
export async function generateRemote(
  client: TokenCompleter,
  prompts: number[][],
  opts: RemoteGenerateOptions,
  onPrompt?: (promptIndex: number, completions: Completion[]) => void,
): Promise<Completion[]> {
  const n = opts.n ?? 1;
  const perPrompt = await Promise.all(
    prompts.map(async (prompt, promptIndex) => {
      const r = await completeTokens(client, prompt, {
        ...opts,
        n,
        seed: opts.seed === undefined ? undefined : opts.seed + promptIndex,
      });
      const group = r.choices.map(
        (c, sampleIndex): Completion => ({
          promptIndex,
          sampleIndex,
          ...sampledTokens(c),
          text: c.text,
          policyVersion: r.policyVersion,
        }),
      );
      onPrompt?.(promptIndex, group);
      return group;
    }),
  );
  return perPrompt.flat();
}
