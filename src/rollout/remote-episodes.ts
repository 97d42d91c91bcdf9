/**
 * Multi-turn episodes on an external OpenAI-compatible engine (vLLM, SGLang, `grpo serve`): each turn is one
 * /v1/completions request for the episode's tokens so far (prompt, sampled and inserted tokens, as ids), so the
 * engine continues exactly the sequence the trainer will score; its prefix cache spares re-encoding the
 * conversation. Stop strings are returned with the text (vLLM's include_stop_str_in_output), so a plain-text
 * tool call keeps its closing tag.
 */
import type { OpenAIClient } from './openai-client.ts';
import type { Completion } from './completion.ts';
import { completeTokens, sampledTokens, type RemoteGenerateOptions } from './remote-generate.ts';
import { checkAgentLoop, Episode, type AgentLoop } from './agent-loop.ts';

export async function remoteEpisodes(
  client: OpenAIClient,
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
        Array.from({ length: n }, async (_, sampleIndex) => {
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
              // every request its own seed: episodes and turns sample independently, and reproducibly where the engine honours seeds
              const seed =
                opts.seed === undefined
                  ? undefined
                  : opts.seed + ((promptIndex * n + sampleIndex) * loop.maxTurns + turn);
              const r = await completeTokens(client, [...prompt, ...c.tokens], {
                ...opts,
                n: 1,
                maxTokens: opts.maxTokens - c.tokens.length,
                stop,
                seed,
                extra: { include_stop_str_in_output: true },
              });
              const t = sampledTokens(r.choices[0]);
              c.tokens.push(...t.tokens);
              c.logprobs.push(...t.logprobs);
              c.samplingLogprobs.push(...t.samplingLogprobs);
              c.sampledMask!.push(...t.tokens.map(() => 1));
              c.finishReason = t.finishReason;
              const ids = t.tokens.length ? await episode.afterTurn() : null;
              if (!ids) break;
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
        }),
      );
      onPrompt?.(promptIndex, group);
      return group;
    }),
  );
  return perPrompt.flat();
}
