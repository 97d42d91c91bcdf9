/**
 * Multi-turn episodes on the embedded model: every episode is a multi-turn sequence of one SequenceDecoder, so
 * an environment's answer is prefilled into the episode's own KV cache at its position (the conversation is never
 * re-encoded), and episodes waiting for a tool leave the batch to the others until their answer comes.
 */
import type { LlamaModel } from '../model/llama-model.ts';
import { SequenceDecoder } from './sequence-decoder.ts';
import type { Completion } from './completion.ts';
import type { GenerateOptions } from './generate.ts';
import { checkAgentLoop, Episode, type AgentLoop } from './agent-loop.ts';
import { GrpoError } from '../errors.ts';

export async function embeddedEpisodes(
  model: LlamaModel,
  prompts: number[][],
  opts: GenerateOptions,
  loop: AgentLoop,
  onPrompt?: (promptIndex: number, group: Completion[]) => void,
): Promise<Completion[]> {
  checkAgentLoop(loop);
  const decoder = new SequenceDecoder(model, {
    precision: opts.precision,
    adapters: opts.adapters,
    spanBucket: opts.spanBucket,
  });
  const waiting = new Set<Promise<void>>();
  const episodes = new Map<Completion, Episode>();
  let failure: unknown = null;
  try {
    const request = decoder.add(prompts, {
      ...opts,
      stop: [...(opts.stop ?? []), ...loop.format.stop],
      decode: (ids) => loop.decode(ids),
      multiTurn: true,
    });
    for (const c of request.completions) episodes.set(c, new Episode(loop, c, opts.maxTokens));
    const left = prompts.map(() => opts.n ?? 1);
    const ended = async (c: Completion) => {
      request.setText(c);
      await episodes.get(c)!.close();
      if (--left[c.promptIndex] === 0)
        onPrompt?.(
          c.promptIndex,
          request.completions.filter((x) => x.promptIndex === c.promptIndex),
        );
    };
    const turnEnded = (c: Completion) => {
      const p = episodes
        .get(c)!
        .afterTurn()
        .then((ids) => {
          if (ids) decoder.resume(c, ids);
          else {
            decoder.stop(c);
            return ended(c);
          }
        })
        .catch((e) => {
          failure ??= e;
        })
        .finally(() => waiting.delete(p));
      waiting.add(p);
    };
    while (!request.finished) {
      if (failure) throw failure;
      if (decoder.canStep) {
        decoder.step();
        for (const c of decoder.takePaused()) turnEnded(c);
        // let tool calls that finished meanwhile hand their answers over
        await new Promise((r) => setImmediate(r));
      } else if (waiting.size > 0) await Promise.race(waiting);
      else
        throw new GrpoError(
          'engine',
          'multi-turn decoding stalled: an episode is paused with no environment answer pending',
        );
    }
    await Promise.all(waiting);
    if (failure) throw failure;
    return request.completions;
  } finally {
    decoder.free();
  }
}
