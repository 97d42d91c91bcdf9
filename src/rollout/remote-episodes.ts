/**
 * Multi-turn episodes on a rollout server (vLLM, SGLang, `grpo serve`): each turn is one /v1/completions request
 * for the episode's tokens so far (prompt, sampled and inserted tokens, as ids), so the server continues exactly
 * the sequence the trainer will score; its prefix cache spares re-encoding the conversation. Stop strings are
 * returned with the text (vLLM's include_stop_str_in_output), so a plain-text tool call keeps its closing tag.
 */
import type { TokenCompleter } from './chat-model.ts';
import type { Completion } from './completion.ts';
import { completeTokens, sampledTokens, type RemoteGenerateOptions } from './remote-generate.ts';
import { checkAgentLoop, Episode, type AgentLoop } from './agent-loop.ts';

export async function remoteEpisodes(
  client: TokenCompleter,
  prompts: number[][],
  opts: RemoteGenerateOptions,
  loop: AgentLoop,
  onPrompt?: (promptIndex: number, group: Completion[]) => void,
): Promise<Completion[]> {
  checkAgentLoop(loop);
  const n = opts.n ?? 1;
  const stop = [...(opts.stop ?? []), ...loop.format.stop];
  const perPrompt = await Promise.all(
    prompts.map(async (prompt, promptIndex) => {
      const group = await Promise.all(
        Array.from({ length: n }, (_, sampleIndex) =>
          remoteEpisode({ client, prompt, opts: { ...opts, stop }, loop, promptIndex, sampleIndex }),
        ),
      );
      onPrompt?.(promptIndex, group);
      return group;
    }),
  );
  return perPrompt.flat();
}

interface RemoteEpisode {
  client: TokenCompleter;
  prompt: number[];
  /** the request's options, its stop strings joined by the tool format's */
  opts: RemoteGenerateOptions & { stop: string[] };
  loop: AgentLoop;
  promptIndex: number;
  sampleIndex: number;
}

/** One episode: a completion request per model turn, each answered by the environment, until it ends the episode. */
async function remoteEpisode(e: RemoteEpisode): Promise<Completion> {
  const { client, prompt, opts, loop, promptIndex, sampleIndex } = e;
  const n = opts.n ?? 1;
  const c: Completion = {
    promptIndex,
    sampleIndex,
    tokens: [],
    logprobs: [],
    samplingLogprobs: [],
    sampledMask: [],
    finishReason: 'length',
  };
  const episode = new Episode(loop, c, opts.maxTokens);
  try {
    for (let turn = 0; ; turn++) {
      // every request its own seed: episodes and turns sample independently, and reproducibly where the server honours seeds
      const seed =
        opts.seed === undefined ? undefined : opts.seed + ((promptIndex * n + sampleIndex) * loop.maxTurns + turn);
      const r = await completeTokens(client, [...prompt, ...c.tokens], {
        ...opts,
        n: 1,
        maxTokens: opts.maxTokens - c.tokens.length,
        seed,
        extra: { include_stop_str_in_output: true },
      });
      const t = sampledTokens(r.choices[0]);
      if (r.policyVersion !== undefined) c.policyVersion = Math.min(c.policyVersion ?? Infinity, r.policyVersion);
      c.tokens.push(...t.tokens);
      c.logprobs.push(...t.logprobs);
      c.samplingLogprobs.push(...t.samplingLogprobs);
      c.sampledMask!.push(...t.tokens.map(() => 1));
      c.finishReason = t.finishReason;
      const ids = t.tokens.length ? await episode.afterTurn() : null;
      if (!ids) break;
      // the environment's answer: inserted tokens, masked out of the loss, with no log-probs
      c.tokens.push(...ids);
      c.logprobs.push(...ids.map(() => 0));
      c.samplingLogprobs.push(...ids.map(() => 0));
      c.sampledMask!.push(...ids.map(() => 0));
    }
  } finally {
    await episode.close();
  }
  c.text = loop.decode(c.tokens);
  return c;
}
